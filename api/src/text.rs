//! Ids as text on the wire: `#[serde(with = "text")]` writes any `Display` value as its string
//! and reads it back with `FromStr`, so a typed id keeps the wire format of the string it
//! replaced.

use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes `v` as its `Display` text.
pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Reads a value from its text.
pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
where
    T: FromStr,
    T::Err: Display,
    D: Deserializer<'de>,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// The same for an optional value (`null` when absent).
pub mod opt {
    use super::*;

    /// Writes `Some(v)` as its text, `None` as `null`.
    pub fn serialize<T: Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional value from its text.
    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        match Option::<String>::deserialize(d)? {
            Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// The same for a list of values.
pub mod list {
    use super::*;
    use serde::ser::SerializeSeq;

    /// Writes each value as its text.
    pub fn serialize<T: Display, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&x.to_string())?;
        }
        seq.end()
    }

    /// Reads each value from its text.
    pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use amsp_proto::id::OrderId;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Row {
        #[serde(with = "super")]
        order: OrderId,
        #[serde(with = "super::opt")]
        other: Option<OrderId>,
    }

    #[test]
    fn a_typed_id_travels_as_the_text_it_replaced() {
        let order = OrderId::from_parts(1_700_000_000_000, [7; 10]);
        let row = Row { order, other: None };
        let json = serde_json::to_value(&row).expect("serialises");
        assert_eq!(json, serde_json::json!({"order": order.to_string(), "other": null}));
        assert_eq!(serde_json::from_value::<Row>(json).expect("reads back"), row);
        let bad = serde_json::json!({"order": "not-an-id", "other": null});
        assert!(serde_json::from_value::<Row>(bad).is_err());
    }
}
