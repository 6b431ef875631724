//! Who a participant is: the signed profile every node publishes.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::envelope::Record;
use crate::process::{Material, Process};

/// What a participant does in the federation. A node may hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Orders parts.
    User,
    /// Takes design commissions and publishes or licenses models.
    Designer,
    /// Runs printers: a manufacturing centre or a print shop.
    Centre,
}

impl Role {
    /// The lower-case name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Designer => "designer",
            Role::Centre => "centre",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "designer" => Ok(Role::Designer),
            "centre" | "center" => Ok(Role::Centre),
            other => Err(format!("unknown role {other:?}: expected user, designer or centre")),
        }
    }
}

/// A participant's public description, signed by its node key and published to the network.
///
/// The age recipient is here so that anyone can encrypt a model to this participant without
/// asking first; the peer id of the envelope's author binds the two keys together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Shown to other participants.
    pub display_name: String,
    /// The roles this node takes.
    pub roles: BTreeSet<Role>,
    /// The age X25519 recipient (`age1…`) models for this participant are encrypted to.
    pub age_recipient: String,
    /// For designers: skills design requests are matched against ("mechanical", "organic").
    pub skills: Vec<String>,
    /// For centres: the processes run.
    pub processes: Vec<Process>,
    /// For centres: the materials stocked.
    pub materials: Vec<Material>,
    /// A coarse location (city or region) for routing to the nearest capacity.
    pub location: Option<String>,
}

impl Record for Profile {
    const KIND: &'static str = "amsp.profile.v1";
}
