//! `docs/amspd.example.toml` is the complete example a shop starts from: it must load as
//! written, and every value it shows must reach the settings it names.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use amsp_node::config::{NodeConfig, Overrides};
use amsp_proto::process::Process;

fn example() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/amspd.example.toml");
    std::fs::read_to_string(path).expect("docs/amspd.example.toml")
}

fn load(text: &str) -> Result<NodeConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("amspd.toml"), text).unwrap();
    NodeConfig::load(dir.path(), Overrides::default()).map_err(|e| e.to_string())
}

#[test]
fn the_example_file_loads_and_says_what_it_sets() {
    let cfg = load(&example()).unwrap();
    assert_eq!(cfg.display_name, "Fabrik Nord");
    let c = &cfg.centre;
    assert_eq!((c.per_hour, c.setup, c.handling_s), (2.5, 3.0, 14_400));
    assert_eq!(c.per_gram.get("petg"), Some(&0.05));
    assert_eq!(c.printers.len(), 1);
    assert_eq!(c.printers[0].process, Process::PowderBedFusion);
    assert_eq!(cfg.farm.stagger_ms, 30_000);
    assert_eq!(cfg.alerts.rules.bed_clear_after_ms, 900_000);
    assert_eq!(cfg.printers.len(), 2);
    assert_eq!(cfg.network.upload_rate, Some(5_000_000));
    // relay = false: the limits are read but no relay is served.
    assert!(cfg.network.reach.relay_server.is_none());
}

#[test]
fn a_misspelt_or_unusable_centre_setting_stops_the_node_naming_it() {
    let typo = example().replace("handling_s = 14400", "handeling_s = 14400");
    let err = load(&typo).unwrap_err();
    assert!(err.contains("handeling_s"), "{err}");
    let too_long = example().replace("handling_s = 14400", "handling_s = 9999999");
    let err = load(&too_long).unwrap_err();
    assert!(err.contains("centre.handling_s") && err.contains("30 days"), "{err}");
}
