//! The node's settings: one typed struct, loaded from `amspd.toml` in the data directory and
//! overridden by command-line flags, validated once at start-up.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use amsp_proto::profile::Role;
use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};

use crate::engine::centre::{CentreSettingError, CentreSettings, LEGACY_CENTRE_FILE};
use crate::farm::FarmSettings;
use crate::monitor::watch::AlertSettings;
use crate::network::{NetworkConfig, RelayLimits};
use crate::printer::PrinterConfig;
use crate::printer::config::validate_all;

/// Name of the configuration file inside the data directory.
pub const CONFIG_FILE: &str = "amspd.toml";
/// Live orders (not yet reviewed or cancelled) one other author may have on this node by
/// default: far more than a person orders at once, far fewer than fill the node's order cap.
pub const DEFAULT_ORDERS_PER_AUTHOR: usize = 300;
/// Default control API address: loopback only, so the API is not exposed by accident.
pub const DEFAULT_API: &str = "127.0.0.1:7420";

/// The file's layout; every key optional.
///
/// Defaults keep a node private: libp2p listens on loopback only (`listen` opens it to the
/// LAN or the internet), mDNS is off (`mdns = true` turns LAN discovery on), and the control
/// API binds loopback; a non-loopback `api` is refused unless `api_insecure_remote = true`
/// (or `--api-insecure-remote`), because its bearer tokens travel in clear HTTP.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Listen multiaddrs.
    pub listen: Option<Vec<String>>,
    /// Bootstrap multiaddrs (with `/p2p/<peer id>` where known).
    pub bootstrap: Option<Vec<String>>,
    /// Roles: `user`, `designer`, `centre`.
    pub roles: Option<Vec<String>>,
    /// LAN discovery.
    pub mdns: Option<bool>,
    /// Serve as a circuit relay for nodes behind NAT routers (limits in `[relay_limits]`).
    pub relay: Option<bool>,
    /// The relay's limits on reservations, circuits, duration and bytes.
    pub relay_limits: Option<RelayLimits>,
    /// Relays this node reserves a slot on, so nodes behind NAT reach it (with `/p2p/<id>`).
    pub relays: Option<Vec<String>>,
    /// Ask the LAN's router for a port mapping over UPnP (opens a port on it; off by default).
    pub upnp: Option<bool>,
    /// Control API address.
    pub api: Option<String>,
    /// Allow a control API address other than loopback (tokens then cross the network in
    /// clear HTTP; put TLS in front).
    pub api_insecure_remote: Option<bool>,
    /// Name shown to other participants.
    pub display_name: Option<String>,
    /// A designer's skills, published in its profile; design requests are matched against them.
    pub skills: Option<Vec<String>>,
    /// Network limits.
    pub limits: Option<LimitsFile>,
    /// Printers this node drives (a headless printer host lists its local printers here); each
    /// table is a [`PrinterConfig`] plus an optional `auto_eject = true`.
    pub printer: Option<Vec<toml::Table>>,
    /// Farm settings (poll interval, start stagger, attempts).
    pub farm: Option<FarmSettings>,
    /// Alert rule thresholds and evaluation interval.
    pub alerts: Option<AlertSettings>,
    /// A centre's prices, rhythm and extra printers.
    pub centre: Option<CentreSettings>,
    /// Peer ids allowed to operate this node through the federation (`amsp --peer ID …` run
    /// on their own node); each request still needs one of this node's API tokens.
    pub operators: Option<Vec<String>>,
}

/// `[limits]` in the file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// Seconds a request may wait for its response.
    pub request_timeout_s: Option<u64>,
    /// Seconds an unused connection stays open.
    pub idle_timeout_s: Option<u64>,
    /// Established connections at once, each way (at least 16; 128 if unset).
    pub max_connections: Option<u32>,
    /// Live orders one other author may have here ([`DEFAULT_ORDERS_PER_AUTHOR`]).
    pub orders_per_author: Option<usize>,
    /// Model payload bytes per second served to other nodes, all together (no limit if unset):
    /// keeps a node on a small uplink usable while others fetch from it.
    pub upload_bytes_per_s: Option<u64>,
}

/// Values given on the command line; each one present overrides the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Vec<String>,
    /// `--bootstrap`.
    pub bootstrap: Vec<String>,
    /// `--role`.
    pub roles: Vec<String>,
    /// `--no-mdns` (mDNS is off unless asked for; this overrides `mdns = true` in the file).
    pub no_mdns: bool,
    /// `--mdns`: turn LAN discovery on.
    pub mdns: bool,
    /// `--relay`: serve as a circuit relay.
    pub relay: bool,
    /// `--api`.
    pub api: Option<String>,
    /// `--api-insecure-remote`: allow a non-loopback API address.
    pub api_insecure_remote: bool,
    /// `--name`.
    pub display_name: Option<String>,
    /// `--skill`.
    pub skills: Vec<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where identity, store, token and config live.
    pub data_dir: PathBuf,
    /// Network settings.
    pub network: NetworkConfig,
    /// Roles this node takes.
    pub roles: BTreeSet<Role>,
    /// Control API address.
    pub api: SocketAddr,
    /// Name shown to other participants.
    pub display_name: String,
    /// Skills published in the profile (designers).
    pub skills: Vec<String>,
    /// Printers from the configuration file, each with its auto-eject flag.
    pub printers: Vec<(PrinterConfig, bool)>,
    /// Farm settings.
    pub farm: FarmSettings,
    /// Alert settings.
    pub alerts: AlertSettings,
    /// Centre settings (used when the node has the centre role).
    pub centre: CentreSettings,
    /// Live orders one other author may have here; more are refused and, pushed by their
    /// author, count against it.
    pub orders_per_author: usize,
    /// Peers allowed to operate this node through the federation; nobody when empty.
    pub operators: Vec<libp2p::PeerId>,
}

/// Why the configuration is unusable; names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this layout.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message (names the key and line).
        source: Box<toml::de::Error>,
    },
    /// A value is malformed.
    #[error("`{key}`: {value:?} is not valid: {reason}")]
    Value {
        /// The key or flag.
        key: &'static str,
        /// The value given.
        value: String,
        /// Why.
        reason: String,
    },
    /// A setting in a file is refused; names the file and the key.
    #[error("{path}: {source}")]
    Setting {
        /// The file.
        path: PathBuf,
        /// The key and why.
        source: CentreSettingError,
    },
    /// The control API would listen beyond this host without the owner saying so.
    #[error(
        "`api`: {addr} is not a loopback address; bearer tokens would cross the network in clear \
         HTTP. Keep the API on 127.0.0.1 (reach it over SSH), or pass --api-insecure-remote \
         (api_insecure_remote = true) behind a TLS proxy"
    )]
    RemoteApi {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// No data directory was given and none could be derived from the environment.
    #[error("no --data-dir given and neither XDG_DATA_HOME nor HOME is set")]
    NoDataDir,
}

/// The default data directory: `$XDG_DATA_HOME/amsp`, else `~/.local/share/amsp`.
pub fn default_data_dir() -> Result<PathBuf, ConfigError> {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("amsp"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".local/share/amsp"))
        .ok_or(ConfigError::NoDataDir)
}

fn parse_addrs(key: &'static str, values: &[String]) -> Result<Vec<Multiaddr>, ConfigError> {
    values
        .iter()
        .map(|v| {
            v.parse().map_err(|e: libp2p::multiaddr::Error| ConfigError::Value {
                key,
                value: v.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

impl NodeConfig {
    /// Loads `DIR/amspd.toml` (if present) and applies the flags.
    pub fn load(data_dir: &Path, flags: Overrides) -> Result<Self, ConfigError> {
        let path = data_dir.join(CONFIG_FILE);
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<ConfigFile>(&text)
                .map_err(|e| ConfigError::Parse { path: path.clone(), source: Box::new(e) })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        Self::resolve(data_dir, file, flags)
    }

    fn resolve(data_dir: &Path, file: ConfigFile, flags: Overrides) -> Result<Self, ConfigError> {
        let mut network = NetworkConfig::default();
        let pick = |flag: Vec<String>, file: Option<Vec<String>>| {
            if flag.is_empty() { file } else { Some(flag) }
        };
        if let Some(listen) = pick(flags.listen, file.listen) {
            network.listen = parse_addrs("listen", &listen)?;
        }
        if let Some(b) = pick(flags.bootstrap, file.bootstrap) {
            network.bootstrap = parse_addrs("bootstrap", &b)?;
        }
        network.mdns = !flags.no_mdns && (flags.mdns || file.mdns.unwrap_or(false));
        if flags.relay || file.relay == Some(true) {
            network.reach.relay_server = Some(file.relay_limits.clone().unwrap_or_default());
        }
        let relays = parse_addrs("relays", &file.relays.clone().unwrap_or_default())?;
        for (addr, text) in relays.iter().zip(file.relays.iter().flatten()) {
            if !matches!(addr.iter().last(), Some(libp2p::multiaddr::Protocol::P2p(_))) {
                return Err(ConfigError::Value {
                    key: "relays",
                    value: text.clone(),
                    reason: "a relay address must end in /p2p/<peer id>".into(),
                });
            }
        }
        network.reach.relays = relays;
        network.reach.upnp = file.upnp.unwrap_or(false);
        if let Some(l) = &file.limits {
            if let Some(s) = l.request_timeout_s {
                network.request_timeout = Duration::from_secs(s.max(1));
            }
            if let Some(s) = l.idle_timeout_s {
                network.idle_timeout = Duration::from_secs(s.max(1));
            }
            network.upload_rate = l.upload_bytes_per_s.filter(|r| *r > 0);
            if let Some(n) = l.max_connections {
                if n < crate::network::MIN_CONNECTIONS {
                    return Err(ConfigError::Value {
                        key: "max_connections",
                        value: n.to_string(),
                        reason: format!(
                            "at least {} each way: a node keeps up to {} peers",
                            crate::network::MIN_CONNECTIONS,
                            crate::network::trim::PEERS_HIGH
                        ),
                    });
                }
                network.max_connections = n;
            }
        }
        let role_names = pick(flags.roles, file.roles).unwrap_or_else(|| vec!["user".into()]);
        let mut roles = BTreeSet::new();
        for r in role_names {
            roles.insert(r.parse::<Role>().map_err(|reason| ConfigError::Value {
                key: "role",
                value: r.clone(),
                reason,
            })?);
        }
        let api_text = flags.api.or(file.api).unwrap_or_else(|| DEFAULT_API.into());
        let api: SocketAddr = api_text.parse().map_err(|e: std::net::AddrParseError| {
            ConfigError::Value { key: "api", value: api_text.clone(), reason: e.to_string() }
        })?;
        let remote_allowed = flags.api_insecure_remote || file.api_insecure_remote == Some(true);
        if !api.ip().is_loopback() && !remote_allowed {
            return Err(ConfigError::RemoteApi { addr: api });
        }
        let display_name =
            flags.display_name.or(file.display_name).unwrap_or_else(|| "amsp node".into());
        let skills = pick(flags.skills, file.skills).unwrap_or_default();
        let printers = printers_from_tables(file.printer.unwrap_or_default())?;
        let farm = file.farm.unwrap_or_default();
        let alerts = file.alerts.unwrap_or_default();
        let centre = centre_settings(data_dir, file.centre)?;
        let orders_per_author = file
            .limits
            .as_ref()
            .and_then(|l| l.orders_per_author)
            .unwrap_or(DEFAULT_ORDERS_PER_AUTHOR)
            .max(1);
        let operators = file
            .operators
            .unwrap_or_default()
            .into_iter()
            .map(|v| {
                v.parse().map_err(|e: libp2p::identity::ParseError| ConfigError::Value {
                    key: "operators",
                    value: v.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<libp2p::PeerId>, _>>()?;
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            network,
            roles,
            api,
            display_name,
            skills,
            printers,
            farm,
            alerts,
            centre,
            orders_per_author,
            operators,
        })
    }
}

/// `[centre]` from `amspd.toml`, else the legacy `centre.toml`, else defaults; validated.
fn centre_settings(
    data_dir: &Path,
    table: Option<CentreSettings>,
) -> Result<CentreSettings, ConfigError> {
    let legacy = data_dir.join(LEGACY_CENTRE_FILE);
    let (settings, path) = match table {
        Some(s) => (s, data_dir.join(CONFIG_FILE)),
        None => match std::fs::read_to_string(&legacy) {
            Ok(text) => {
                tracing::warn!(
                    file = %legacy.display(),
                    "centre settings belong under [centre] in {CONFIG_FILE}; reading the old file"
                );
                let s = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: legacy.clone(),
                    source: Box::new(e),
                })?;
                (s, legacy)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (CentreSettings::default(), data_dir.join(CONFIG_FILE))
            }
            Err(source) => return Err(ConfigError::Read { path: legacy, source }),
        },
    };
    settings.validate().map_err(|source| ConfigError::Setting { path, source })?;
    Ok(settings)
}

/// Reads `[[printer]]` tables: `auto_eject` is taken out, the rest must be a valid
/// [`PrinterConfig`]; names must be unique.
fn printers_from_tables(
    tables: Vec<toml::Table>,
) -> Result<Vec<(PrinterConfig, bool)>, ConfigError> {
    let mut out = Vec::new();
    for mut t in tables {
        let name = t.get("name").and_then(|v| v.as_str()).unwrap_or("?").to_owned();
        let bad =
            |reason: String| ConfigError::Value { key: "printer", value: name.clone(), reason };
        let auto_eject = match t.remove("auto_eject") {
            None => false,
            Some(toml::Value::Boolean(b)) => b,
            Some(other) => {
                return Err(bad(format!("auto_eject must be true or false, got {other}")));
            }
        };
        let config: PrinterConfig =
            toml::Value::Table(t).try_into().map_err(|e: toml::de::Error| bad(e.to_string()))?;
        out.push((config, auto_eject));
    }
    let configs: Vec<PrinterConfig> = out.iter().map(|(c, _)| c.clone()).collect();
    validate_all(&configs).map_err(|e| ConfigError::Value {
        key: "printer",
        value: String::new(),
        reason: e.to_string(),
    })?;
    Ok(out)
}

#[cfg(test)]
mod printer_tables {
    use super::*;

    #[test]
    fn printer_tables_and_farm_settings_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            r#"
[farm]
poll_ms = 200
stagger_ms = 0

[[printer]]
name = "belt"
auto_eject = true
materials = ["PLA"]
bed = { x_mm = 200, y_mm = 200, z_mm = 200 }
nozzle_mm = 0.4
driver = { kind = "sim", time_scale = 50 }
"#,
        )
        .unwrap();
        let c = NodeConfig::load(dir.path(), Overrides::default()).unwrap();
        assert_eq!(c.farm.poll_ms, 200);
        assert_eq!(c.farm.stagger_ms, 0);
        assert_eq!(c.printers.len(), 1);
        assert_eq!(c.printers[0].0.name, "belt");
        assert!(c.printers[0].1);
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[[printer]]\nname = \"x\"\nbed = { x_mm = 1, y_mm = 1, z_mm = 1 }\nnozzle_mm = 9\ndriver = { kind = \"sim\" }\n",
        )
        .unwrap();
        let err = NodeConfig::load(dir.path(), Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("nozzle_mm"), "{err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_bad_values_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "roles = [\"centre\"]\nmdns = true\napi = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let c = NodeConfig::load(dir.path(), Overrides::default()).unwrap();
        assert!(c.roles.contains(&Role::Centre));
        assert_eq!(c.api.port(), 9000);
        assert!(c.network.mdns);
        let flags =
            Overrides { roles: vec!["designer".into()], no_mdns: true, ..Overrides::default() };
        let c = NodeConfig::load(dir.path(), flags).unwrap();
        assert_eq!(c.roles.iter().copied().collect::<Vec<_>>(), vec![Role::Designer]);
        assert!(!c.network.mdns);
        let err = NodeConfig::load(
            dir.path(),
            Overrides { bootstrap: vec!["not-an-addr".into()], ..Overrides::default() },
        )
        .unwrap_err();
        assert!(err.to_string().contains("`bootstrap`"), "{err}");
        std::fs::write(dir.path().join(CONFIG_FILE), "colour = 1\n").unwrap();
        let err = NodeConfig::load(dir.path(), Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn relay_settings_are_read_and_a_relay_needs_its_peer_id() {
        let dir = tempfile::tempdir().unwrap();
        let relay = libp2p::PeerId::random();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            format!(
                "relay = true\nrelays = [\"/ip4/198.18.0.1/tcp/4001/p2p/{relay}\"]\n\
                 [relay_limits]\nmax_circuit_bytes = 4096\nmember_circuits_per_minute = 500\n"
            ),
        )
        .unwrap();
        let c = NodeConfig::load(dir.path(), Overrides::default()).unwrap();
        let limits = c.network.reach.relay_server.expect("a relay");
        assert_eq!(limits.max_circuit_bytes, 4096);
        assert_eq!(limits.member_circuits_per_minute, 500);
        assert_eq!(limits.circuits_per_minute, RelayLimits::default().circuits_per_minute);
        assert_eq!(limits.max_reservations, RelayLimits::default().max_reservations);
        assert_eq!(c.network.reach.relays.len(), 1);
        assert!(!c.network.reach.upnp, "UPnP stays off unless asked for");

        std::fs::write(dir.path().join(CONFIG_FILE), "relays = [\"/ip4/198.18.0.1/tcp/4001\"]\n")
            .unwrap();
        let err = NodeConfig::load(dir.path(), Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("`relays`") && err.contains("/p2p/<peer id>"), "{err}");
        let off = tempfile::tempdir().unwrap();
        let c = NodeConfig::load(off.path(), Overrides::default()).unwrap();
        assert!(c.network.reach.relay_server.is_none(), "not a relay unless asked");
        let on = NodeConfig::load(off.path(), Overrides { relay: true, ..Overrides::default() });
        assert!(on.unwrap().network.reach.relay_server.is_some(), "--relay");
    }

    #[test]
    fn defaults_keep_the_node_private() {
        let dir = tempfile::tempdir().unwrap();
        let c = NodeConfig::load(dir.path(), Overrides::default()).unwrap();
        assert!(!c.network.mdns, "mDNS is on by default");
        assert!(!c.network.listen.is_empty());
        for addr in &c.network.listen {
            let loopback = addr.iter().any(|p| match p {
                libp2p::multiaddr::Protocol::Ip4(ip) => ip.is_loopback(),
                libp2p::multiaddr::Protocol::Ip6(ip) => ip.is_loopback(),
                _ => false,
            });
            assert!(loopback, "default listen address {addr} is not loopback");
        }
        assert!(c.api.ip().is_loopback());
        let c =
            NodeConfig::load(dir.path(), Overrides { mdns: true, ..Overrides::default() }).unwrap();
        assert!(c.network.mdns, "--mdns turns discovery on");
    }

    #[test]
    fn a_remote_api_needs_the_explicit_flag() {
        let dir = tempfile::tempdir().unwrap();
        let remote = |insecure| Overrides {
            api: Some("0.0.0.0:0".into()),
            api_insecure_remote: insecure,
            ..Overrides::default()
        };
        let err = NodeConfig::load(dir.path(), remote(false)).unwrap_err();
        assert!(matches!(err, ConfigError::RemoteApi { .. }), "{err}");
        assert!(err.to_string().contains("--api-insecure-remote"), "{err}");
        assert!(NodeConfig::load(dir.path(), remote(true)).is_ok());
        std::fs::write(dir.path().join(CONFIG_FILE), "api = \"192.0.2.1:7420\"\n").unwrap();
        assert!(NodeConfig::load(dir.path(), Overrides::default()).is_err());
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "api = \"[::1]:7420\"\napi_insecure_remote = false\n",
        )
        .unwrap();
        assert!(NodeConfig::load(dir.path(), Overrides::default()).is_ok(), "::1 is loopback");
    }
}

#[cfg(test)]
mod centre_settings {
    use super::*;

    fn load(dir: &Path, amspd: &str) -> Result<NodeConfig, ConfigError> {
        std::fs::write(dir.join(CONFIG_FILE), amspd).unwrap();
        NodeConfig::load(dir, Overrides::default())
    }

    #[test]
    fn max_connections_is_applied_and_refused_below_the_band() {
        let dir = tempfile::tempdir().unwrap();
        let c = load(dir.path(), "").unwrap();
        assert_eq!(c.network.max_connections, crate::network::MAX_CONNECTIONS);
        let c = load(dir.path(), "[limits]\nmax_connections = 40\n").unwrap();
        assert_eq!(c.network.max_connections, 40);
        let err = load(dir.path(), "[limits]\nmax_connections = 4\n").unwrap_err();
        assert!(err.to_string().contains("max_connections"), "{err}");
    }

    #[test]
    fn centre_table_is_read_and_validated_naming_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = load(
            dir.path(),
            "roles = [\"centre\"]\n[centre]\nper_hour = 1.5\n[centre.per_gram]\npla = 0.04\n\
             [[centre.printer]]\nname = \"mk3\"\nmaterials = [\"pla\"]\n",
        )
        .unwrap();
        assert_eq!(c.centre.per_hour, 1.5);
        assert_eq!(c.centre.printers[0].name, "mk3");
        for (text, key) in [
            ("[centre]\nper_hour = -2\n", "centre.per_hour"),
            ("[centre.per_gram]\npetg = nan\n", "centre.per_gram.petg"),
            ("[centre]\nadvertise_every_s = 30\nad_valid_s = 10\n", "centre.ad_valid_s"),
            ("[centre]\nlayer_height_mm = 3\n", "centre.layer_height_mm"),
            ("[centre]\ncurrency = \"euro\"\n", "centre.currency"),
            ("[[centre.printer]]\nname = \"a\"\nmaterials = []\n", "centre.printer[0].materials"),
        ] {
            let err = load(dir.path(), text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?}: {err}");
            assert!(err.contains(CONFIG_FILE), "{text:?}: {err}");
        }
        let err = load(dir.path(), "[centre]\nper_hr = 2\n").unwrap_err().to_string();
        assert!(err.contains("per_hr"), "{err}");
    }

    #[test]
    fn the_old_centre_file_is_still_read_and_its_errors_name_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LEGACY_CENTRE_FILE), "setup = 9.0\n").unwrap();
        assert_eq!(load(dir.path(), "").unwrap().centre.setup, 9.0);
        std::fs::write(dir.path().join(LEGACY_CENTRE_FILE), "setup = -1.0\n").unwrap();
        let err = load(dir.path(), "").unwrap_err().to_string();
        assert!(err.contains(LEGACY_CENTRE_FILE) && err.contains("centre.setup"), "{err}");
        // A [centre] table wins over the old file.
        assert_eq!(load(dir.path(), "[centre]\nsetup = 2.0\n").unwrap().centre.setup, 2.0);
    }
}
