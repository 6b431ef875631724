//! The vocabulary of amsp.
