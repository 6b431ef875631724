//! Reading fields out of a host's JSON with errors that name the field.
//!
//! Hosts change their answers between versions and plugins add or null fields; a driver reads
//! only what it needs, tolerates `null` where the host documents it, and otherwise reports the
//! exact JSON path that did not match (`progress.completion: expected a number, got "abc"`).

use serde_json::Value;

/// A field that is missing or of the wrong type.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Dotted JSON path of the field.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl FieldError {
    /// A field error for `field`.
    pub fn new(field: &str, problem: impl Into<String>) -> Self {
        Self { field: field.to_owned(), problem: problem.into() }
    }
}

/// The value at a dotted `path` (`"temperature.tool0.actual"`), if present.
pub fn at<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(root, |v, key| v.get(key))
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{:?}", s.chars().take(40).collect::<String>()),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A number at `path`; missing or `null` → `None`.
pub fn opt_f64(root: &Value, path: &str) -> Result<Option<f64>, FieldError> {
    match at(root, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_f64().map(Some).ok_or_else(|| FieldError::new(path, "number out of range"))
        }
        Some(other) => {
            Err(FieldError::new(path, format!("expected a number, got {}", kind(other))))
        }
    }
}

/// A string at `path`; missing or `null` → `None`.
pub fn opt_str<'v>(root: &'v Value, path: &str) -> Result<Option<&'v str>, FieldError> {
    match at(root, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => {
            Err(FieldError::new(path, format!("expected a string, got {}", kind(other))))
        }
    }
}

/// A string that must be present.
pub fn req_str<'v>(root: &'v Value, path: &str) -> Result<&'v str, FieldError> {
    opt_str(root, path)?.ok_or_else(|| FieldError::new(path, "missing"))
}

/// A boolean at `path`; missing or `null` → `None`.
pub fn opt_bool(root: &Value, path: &str) -> Result<Option<bool>, FieldError> {
    match at(root, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => {
            Err(FieldError::new(path, format!("expected true or false, got {}", kind(other))))
        }
    }
}

/// A boolean that must be present.
pub fn req_bool(root: &Value, path: &str) -> Result<bool, FieldError> {
    opt_bool(root, path)?.ok_or_else(|| FieldError::new(path, "missing"))
}

/// An object that must be present.
pub fn req_object<'v>(root: &'v Value, path: &str) -> Result<&'v Value, FieldError> {
    match at(root, path) {
        Some(v @ Value::Object(_)) => Ok(v),
        None => Err(FieldError::new(path, "missing")),
        Some(other) => {
            Err(FieldError::new(path, format!("expected an object, got {}", kind(other))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_types_and_nulls() {
        let v = serde_json::json!({"a": {"b": 1.5, "s": "x", "n": null, "t": true}});
        assert_eq!(opt_f64(&v, "a.b"), Ok(Some(1.5)));
        assert_eq!(opt_f64(&v, "a.n"), Ok(None));
        assert_eq!(opt_f64(&v, "a.missing"), Ok(None));
        assert_eq!(req_str(&v, "a.s"), Ok("x"));
        assert_eq!(req_bool(&v, "a.t"), Ok(true));
        let e = opt_f64(&v, "a.s").err();
        assert_eq!(e, Some(FieldError::new("a.s", "expected a number, got \"x\"")));
        assert_eq!(req_str(&v, "a.q").err().map(|e| e.field), Some("a.q".into()));
        assert!(req_object(&v, "a.b").is_err());
    }
}
