//! How a printer is registered: its name, which host drives it, what it can print.
//!
//! The node stores these records and `amspd` reads them from its TOML configuration (a headless
//! printer host lists its local printers there). The type is plain data with serde; `validate`
//! checks it once with errors that name the printer and the key, and `connect` turns it into a
//! live driver.
//!
//! A printer host's API key is given one of two ways: `api_key_file` names a file the node
//! reads, and is accepted only from the node's own `amspd.toml` (the owner wrote it); `api_key`
//! carries the key itself and is what the control API takes, so no API caller can make the node
//! read a path of its choosing and send the contents to a URL of its choosing.
//!
//! ```toml
//! [[printer]]
//! name = "mk4-left"
//! materials = ["PLA", "PETG"]
//! bed = { x_mm = 250, y_mm = 210, z_mm = 220 }
//! nozzle_mm = 0.4
//! driver = { kind = "octoprint", url = "http://127.0.0.1:5000", api_key_file = "/etc/amsp/mk4.key" }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::driver::{DriverError, PrinterDriver};
use super::gcode_plan::{MotionLimits, ThermalModel};
use super::moonraker::MoonrakerDriver;
use super::octoprint::OctoPrintDriver;
use super::sim::{DEFAULT_TIME_SCALE, SimPrinter, SimSettings};

/// Longest printer name; names appear in capacity ads and console columns.
pub const MAX_PRINTER_NAME_CHARS: usize = 64;
/// Largest API key file read; keys are tens of bytes, so anything bigger is the wrong file.
pub const MAX_API_KEY_FILE_BYTES: u64 = 4096;
/// Largest build volume edge accepted, mm; bigger values are typos (metres for mm).
pub const MAX_BED_EDGE_MM: f64 = 5000.0;

/// The slicer profile of a printer that names none.
pub const DEFAULT_PROFILE: &str = "prusa-mk3s";

/// One printer as registered with a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    /// Unique name within the node (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// Which host drives the printer.
    pub driver: DriverConfig,
    /// Materials loaded or supported (e.g. "PLA", "PETG"); routing matches parts against them.
    #[serde(default)]
    pub materials: Vec<String>,
    /// Build volume.
    pub bed: BuildVolume,
    /// Nozzle diameter, mm.
    pub nozzle_mm: f64,
    /// The built-in slicer profile of the machine (`prusa-mk3s`, `creality-ender3`,
    /// `voron-2.4-350`, `generic-250x210`); `prusa-mk3s` when not given. A centre slices each
    /// plate for one profile, and the farm sends G-code only to printers of the profile it was
    /// made for: G-code for one machine can wreck another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// The host that drives a printer, with what it needs to connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DriverConfig {
    /// A simulated printer inside the node.
    Sim {
        /// How many times faster than real time the printer runs.
        #[serde(default = "default_time_scale")]
        time_scale: f64,
        /// Motion limits used to time moves.
        #[serde(default)]
        motion: MotionLimits,
        /// Heater ramps and room temperature.
        #[serde(default)]
        thermal: ThermalModel,
    },
    /// An OctoPrint server; needs its API key, as `api_key` or (in `amspd.toml`)
    /// `api_key_file`.
    OctoPrint {
        /// Base URL, e.g. `http://octopi.local`.
        url: String,
        /// The OctoPrint user's API key itself (how the control API takes it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key: Option<ApiKey>,
        /// File holding the key; only from the node's own configuration file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key_file: Option<PathBuf>,
    },
    /// A Klipper host behind Moonraker; a key only when Moonraker requires one (trusted
    /// clients need none).
    Moonraker {
        /// Base URL, e.g. `http://voron.local:7125`.
        url: String,
        /// The API key itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key: Option<ApiKey>,
        /// File holding the key; only from the node's own configuration file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key_file: Option<PathBuf>,
    },
}

/// A printer host's API key. Its `Debug` hides it, so it never reaches a log line.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key (checked by [`PrinterConfig::validate`]).
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key, for the driver's header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Why this is not a usable key, if it is not.
    fn problem(&self) -> Option<String> {
        if self.0.is_empty() {
            Some("the key is empty".into())
        } else if self.0.len() as u64 > MAX_API_KEY_FILE_BYTES {
            Some(format!("{} bytes is too big for an API key", self.0.len()))
        } else if self.0.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Some("the key contains whitespace or control characters".into())
        } else {
            None
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

fn default_time_scale() -> f64 {
    DEFAULT_TIME_SCALE
}

impl DriverConfig {
    /// A simulated printer with `settings`.
    pub fn sim(settings: SimSettings) -> Self {
        Self::Sim {
            time_scale: settings.time_scale,
            motion: settings.motion,
            thermal: settings.thermal,
        }
    }

    /// The key file this driver names, if any: the control API refuses any, since only the
    /// node's own configuration may make it read a file.
    pub fn api_key_file(&self) -> Option<&Path> {
        match self {
            Self::OctoPrint { api_key_file, .. } | Self::Moonraker { api_key_file, .. } => {
                api_key_file.as_deref()
            }
            Self::Sim { .. } => None,
        }
    }

    /// The settings of a simulated printer; None for real hosts.
    pub fn sim_settings(&self) -> Option<SimSettings> {
        match self {
            Self::Sim { time_scale, motion, thermal } => {
                Some(SimSettings { time_scale: *time_scale, motion: *motion, thermal: *thermal })
            }
            _ => None,
        }
    }
}

/// A build volume in mm; written `250x210x220` on command lines.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildVolume {
    /// Width, mm.
    pub x_mm: f64,
    /// Depth, mm.
    pub y_mm: f64,
    /// Height, mm.
    pub z_mm: f64,
}

impl fmt::Display for BuildVolume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.x_mm, self.y_mm, self.z_mm)
    }
}

impl FromStr for BuildVolume {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| ConfigError::Invalid {
            printer: String::new(),
            field: "bed",
            reason: format!("{s:?}: {reason}; expected XxYxZ in mm, e.g. 250x210x220"),
        };
        let parts: Vec<&str> = s.split(['x', 'X']).collect();
        let [x, y, z] = parts.as_slice() else {
            return Err(bad("needs three sizes"));
        };
        let num = |p: &str| p.trim().parse::<f64>().map_err(|_| bad("not a number"));
        let volume = Self { x_mm: num(x)?, y_mm: num(y)?, z_mm: num(z)? };
        volume.check().map_err(|reason| bad(&reason))?;
        Ok(volume)
    }
}

impl BuildVolume {
    fn check(&self) -> Result<(), String> {
        for (axis, v) in [("x", self.x_mm), ("y", self.y_mm), ("z", self.z_mm)] {
            if !(v.is_finite() && v > 0.0 && v <= MAX_BED_EDGE_MM) {
                return Err(format!("{axis} = {v} must be in (0, {MAX_BED_EDGE_MM}] mm"));
            }
        }
        Ok(())
    }
}

/// Why a printer configuration cannot be used. Names the printer and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML does not parse or does not match the schema.
    #[error("printer configuration: {0}")]
    Syntax(String),
    /// A value is out of range or malformed.
    #[error("printer {printer:?}: `{field}`: {reason}")]
    Invalid {
        /// The printer's name.
        printer: String,
        /// The key at fault.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Two printers share a name.
    #[error("printer name {0:?} is used twice")]
    DuplicateName(String),
    /// The API key file cannot be read.
    #[error("printer {printer:?}: cannot read API key file {path}: {reason}")]
    KeyFile {
        /// The printer's name.
        printer: String,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The driver refused its settings.
    #[error(transparent)]
    Driver(#[from] DriverError),
}

/// The `[[printer]]` tables of a TOML file; other tables belong to the rest of `amspd`'s
/// configuration and are left to it.
#[derive(Debug, Default, Deserialize)]
struct PrintersFile {
    #[serde(default)]
    printer: Vec<PrinterConfig>,
}

/// Parses and validates the `[[printer]]` tables of a TOML document.
pub fn printers_from_toml(text: &str) -> Result<Vec<PrinterConfig>, ConfigError> {
    let file: PrintersFile =
        toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
    validate_all(&file.printer)?;
    Ok(file.printer)
}

/// Validates each printer and that no two share a name (for a configuration type that embeds
/// `printer: Vec<PrinterConfig>` itself).
pub fn validate_all(printers: &[PrinterConfig]) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for printer in printers {
        printer.validate()?;
        if !seen.insert(printer.name.as_str()) {
            return Err(ConfigError::DuplicateName(printer.name.clone()));
        }
    }
    Ok(())
}

impl PrinterConfig {
    /// The slicer profile plates for this printer are made with.
    pub fn profile(&self) -> &str {
        self.profile.as_deref().unwrap_or(DEFAULT_PROFILE)
    }

    /// Checks every value once, with an error naming the printer and the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: String| ConfigError::Invalid {
            printer: self.name.clone(),
            field,
            reason,
        };
        let name_ok = !self.name.is_empty()
            && self.name.chars().count() <= MAX_PRINTER_NAME_CHARS
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(invalid(
                "name",
                format!("must be 1–{MAX_PRINTER_NAME_CHARS} letters, digits, '-', '_' or '.'"),
            ));
        }
        self.bed.check().map_err(|r| invalid("bed", r))?;
        if !(self.nozzle_mm.is_finite() && self.nozzle_mm > 0.0 && self.nozzle_mm <= 5.0) {
            return Err(invalid("nozzle_mm", format!("{} must be in (0, 5] mm", self.nozzle_mm)));
        }
        if let Some(m) = self.materials.iter().find(|m| m.trim().is_empty()) {
            return Err(invalid("materials", format!("{m:?} is empty")));
        }
        if let Some(p) = &self.profile {
            amsp_mesh::slice::profile::Printer::builtin(p)
                .map_err(|e| invalid("profile", e.to_string()))?;
        }
        match &self.driver {
            DriverConfig::Sim { .. } => match self.driver.sim_settings() {
                Some(settings) => settings.validate().map_err(|r| invalid("driver", r)),
                None => Ok(()),
            },
            DriverConfig::OctoPrint { url, api_key, api_key_file }
            | DriverConfig::Moonraker { url, api_key, api_key_file } => {
                check_url(url).map_err(|r| invalid("driver.url", r))?;
                if api_key.is_some() && api_key_file.is_some() {
                    return Err(invalid(
                        "driver.api_key",
                        "give either api_key or api_key_file, not both".into(),
                    ));
                }
                if let Some(problem) = api_key.as_ref().and_then(ApiKey::problem) {
                    return Err(invalid("driver.api_key", problem));
                }
                let needs_key = matches!(self.driver, DriverConfig::OctoPrint { .. });
                if needs_key && api_key.is_none() && api_key_file.is_none() {
                    return Err(invalid(
                        "driver.api_key",
                        "an OctoPrint printer needs its API key (api_key, or api_key_file in amspd.toml)"
                            .into(),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Builds the live driver (reading the API key file when there is one).
    pub fn connect(&self) -> Result<Arc<dyn PrinterDriver>, ConfigError> {
        self.validate()?;
        Ok(match &self.driver {
            DriverConfig::Sim { .. } => {
                let settings = self.driver.sim_settings().unwrap_or_default();
                Arc::new(SimPrinter::new(&self.name, settings)?)
            }
            DriverConfig::OctoPrint { url, api_key, api_key_file } => {
                let key = self.key(api_key.as_ref(), api_key_file.as_deref())?.unwrap_or_default();
                Arc::new(OctoPrintDriver::new(url, &key)?)
            }
            DriverConfig::Moonraker { url, api_key, api_key_file } => {
                let key = self.key(api_key.as_ref(), api_key_file.as_deref())?;
                Arc::new(MoonrakerDriver::new(url, key.as_deref())?)
            }
        })
    }

    fn key(
        &self,
        key: Option<&ApiKey>,
        file: Option<&Path>,
    ) -> Result<Option<String>, ConfigError> {
        match (key, file) {
            (Some(key), _) => Ok(Some(key.expose().to_owned())),
            (None, Some(path)) => self.read_key(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    fn read_key(&self, path: &Path) -> Result<String, ConfigError> {
        let fail = |reason: String| ConfigError::KeyFile {
            printer: self.name.clone(),
            path: path.to_owned(),
            reason,
        };
        let size = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?.len();
        if size > MAX_API_KEY_FILE_BYTES {
            return Err(fail(format!(
                "{size} bytes is too big for an API key (limit {MAX_API_KEY_FILE_BYTES})"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let key = text.trim();
        if key.is_empty() {
            return Err(fail("the file is empty".into()));
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail("the key contains whitespace; one key per file".into()));
        }
        Ok(key.to_owned())
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?} must start with http:// or https://"));
    }
    if parsed.host_str().is_none() {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[printer]]
name = "mk4-left"
materials = ["PLA", "PETG"]
bed = { x_mm = 250, y_mm = 210, z_mm = 220 }
nozzle_mm = 0.4
driver = { kind = "octoprint", url = "http://127.0.0.1:5000", api_key_file = "/etc/amsp/mk4.key" }

[[printer]]
name = "voron"
profile = "voron-2.4-350"
bed = { x_mm = 300, y_mm = 300, z_mm = 280 }
nozzle_mm = 0.4
driver = { kind = "moonraker", url = "http://voron.local:7125" }

[[printer]]
name = "sim-1"
bed = { x_mm = 200, y_mm = 200, z_mm = 200 }
nozzle_mm = 0.6
[printer.driver]
kind = "sim"
time_scale = 500
motion = { acceleration_mm_s2 = 3000 }
"#;

    #[test]
    fn parses_all_three_drivers_and_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let printers = printers_from_toml(EXAMPLE)?;
        assert_eq!(printers.len(), 3);
        assert_eq!(printers[0].materials, ["PLA", "PETG"]);
        assert_eq!((printers[0].profile(), printers[1].profile()), ("prusa-mk3s", "voron-2.4-350"));
        assert!(matches!(
            &printers[0].driver,
            DriverConfig::OctoPrint { api_key_file: Some(f), .. } if f == Path::new("/etc/amsp/mk4.key")
        ));
        assert!(matches!(
            &printers[1].driver,
            DriverConfig::Moonraker { api_key: None, api_key_file: None, .. }
        ));
        let Some(settings) = printers[2].driver.sim_settings() else {
            return Err("third printer is not simulated".into());
        };
        assert_eq!(settings.time_scale, 500.0);
        assert_eq!(settings.motion.acceleration_mm_s2, 3000.0);
        assert_eq!(
            settings.motion.max_feedrate_mm_s,
            super::super::gcode_plan::DEFAULT_MAX_FEEDRATE_MM_S
        );
        // JSON round trip, as the node stores it.
        let json = serde_json::to_string(&printers)?;
        let back: Vec<PrinterConfig> = serde_json::from_str(&json)?;
        assert_eq!(back, printers);
        Ok(())
    }

    #[test]
    fn other_tables_of_the_node_config_are_left_alone() -> Result<(), ConfigError> {
        let text = format!("[network]\nlisten = [\"/ip4/0.0.0.0/tcp/4001\"]\n{EXAMPLE}");
        assert_eq!(printers_from_toml(&text)?.len(), 3);
        assert!(printers_from_toml("[network]\nport = 1\n")?.is_empty());
        Ok(())
    }

    #[test]
    fn errors_name_the_printer_and_key() {
        let cases = [
            (EXAMPLE.replace("nozzle_mm = 0.6", "nozzle_mm = -1"), "nozzle_mm"),
            (EXAMPLE.replace("\"http://voron.local:7125\"", "\"ftp://x\""), "driver.url"),
            (EXAMPLE.replace("time_scale = 500", "time_scale = 0"), "time_scale"),
            (EXAMPLE.replace("name = \"voron\"", "name = \"a b\""), "name"),
            (EXAMPLE.replace("x_mm = 300", "x_mm = 300000"), "bed"),
            (EXAMPLE.replace("voron-2.4-350", "voron-trident"), "profile"),
        ];
        for (text, key) in cases {
            match printers_from_toml(&text) {
                Err(e) => assert!(e.to_string().contains(key), "{e} should name {key}"),
                Ok(_) => panic!("accepted a bad `{key}`"),
            }
        }
        let typo = EXAMPLE.replace("nozzle_mm = 0.6", "nozzle = 0.6");
        assert!(matches!(printers_from_toml(&typo), Err(ConfigError::Syntax(_))));
        let twice = EXAMPLE.replace("\"voron\"", "\"mk4-left\"");
        assert!(matches!(printers_from_toml(&twice), Err(ConfigError::DuplicateName(_))));
    }

    #[test]
    fn build_volume_from_command_line() {
        let v: Result<BuildVolume, _> = "250x210x220".parse();
        assert!(matches!(v, Ok(BuildVolume { x_mm: 250.0, y_mm: 210.0, z_mm: 220.0 })));
        for bad in ["250x210", "ax1x1", "0x1x1", "1x1x1x1"] {
            assert!(bad.parse::<BuildVolume>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn key_files_are_read_and_checked() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let good = dir.path().join("key");
        std::fs::write(&good, "ABCDEF0123\n")?;
        let mut printer = printers_from_toml(EXAMPLE)?.remove(0);
        printer.driver = DriverConfig::OctoPrint {
            url: "http://127.0.0.1:1".into(),
            api_key: None,
            api_key_file: Some(good),
        };
        assert_eq!(printer.connect()?.kind(), "octoprint");
        // A fleet of mixed drivers behind one trait object type.
        let all = printers_from_toml(EXAMPLE)?;
        let sim = all[2].connect()?;
        let moonraker = all[1].connect()?;
        let fleet: Vec<Arc<dyn PrinterDriver>> = vec![sim, moonraker, printer.connect()?];
        let kinds: Vec<&str> = fleet.iter().map(|d| d.kind()).collect();
        assert_eq!(kinds, ["sim", "moonraker", "octoprint"]);
        let missing = dir.path().join("nope");
        printer.driver = DriverConfig::OctoPrint {
            url: "http://127.0.0.1:1".into(),
            api_key: None,
            api_key_file: Some(missing.clone()),
        };
        match printer.connect() {
            Err(ConfigError::KeyFile { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected a key file error, got {:?}", other.map(|d| d.kind())),
        }
        Ok(())
    }

    #[test]
    fn keys_given_inline_are_checked_and_hidden() -> Result<(), Box<dyn std::error::Error>> {
        let mut printer = printers_from_toml(EXAMPLE)?.remove(0);
        let with = |key: Option<&str>, file: Option<&str>| DriverConfig::OctoPrint {
            url: "http://127.0.0.1:1".into(),
            api_key: key.map(ApiKey::new),
            api_key_file: file.map(PathBuf::from),
        };
        printer.driver = with(Some("ABCDEF0123"), None);
        assert_eq!(printer.connect()?.kind(), "octoprint");
        assert!(!format!("{printer:?}").contains("ABCDEF0123"), "Debug shows the key");
        for (driver, why) in [
            (with(None, None), "no key"),
            (with(Some("a b"), None), "whitespace"),
            (with(Some(""), None), "empty"),
            (with(Some("k"), Some("/etc/amsp/k")), "both"),
        ] {
            printer.driver = driver;
            match printer.validate() {
                Err(ConfigError::Invalid { field: "driver.api_key", .. }) => {}
                other => panic!("{why}: expected an api_key error, got {other:?}"),
            }
        }
        Ok(())
    }
}
