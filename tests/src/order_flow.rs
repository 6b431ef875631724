//! What order scenarios and the orders benchmark share: node settings for a user or a centre
//! with simulated printers, and the `amsp order …` steps run against real `amspd` processes.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::node_process::{NodeProcess, wait_for};

/// A centre's prices and rhythm (`[centre]` in `amspd.toml`) for scenarios: cheap PLA, 2 s capacity ads.
pub const CENTRE_PLA: &str = r#"
per_hour = 1.5
setup = 2.0
advertise_every_s = 2
batch_window_ms = 1500
[per_gram]
pla = 0.04
"#;

/// Settings written as the keys of `[centre]` (`CENTRE_PLA`'s form), as `amspd.toml` text.
pub fn centre_table(settings: &str) -> String {
    let table: toml::Table = toml::from_str(settings).expect("centre settings are TOML");
    let mut file = toml::Table::new();
    file.insert("centre".into(), toml::Value::Table(table));
    format!("\n{}", toml::to_string(&file).expect("TOML"))
}

/// One simulated printer of a centre, as an `[[printer]]` table of `amspd.toml`.
#[derive(Debug, Clone)]
pub struct SimPrinter {
    /// Its name at the centre.
    pub name: String,
    /// The material it stocks.
    pub material: String,
    /// How many times faster than real time it prints.
    pub time_scale: u32,
}

impl SimPrinter {
    /// A printer stocking `material`, at 5000× real time.
    pub fn fast(name: &str, material: &str) -> Self {
        Self { name: name.to_owned(), material: material.to_owned(), time_scale: 5000 }
    }
}

/// Writes the settings of a node with `roles` into `dir`, named after the directory. A centre (`centre = Some(toml)`)
/// gets those settings as `[centre]`, a farm polling every 100 ms with no start stagger, and `printers`
/// that clear their own beds.
pub fn prepare(dir: &Path, roles: &[&str], centre: Option<&str>, printers: &[SimPrinter]) {
    prepare_skilled(dir, roles, &[], centre, printers);
}

/// [`prepare`] for a node that also publishes design `skills` in its profile.
pub fn prepare_skilled(
    dir: &Path,
    roles: &[&str],
    skills: &[&str],
    centre: Option<&str>,
    printers: &[SimPrinter],
) {
    std::fs::create_dir_all(dir).expect("node dir");
    let list = |v: &[&str]| v.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", ");
    // Named after its directory ("centre", "user"), as people would name their nodes.
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut toml = format!("display_name = {name:?}\nroles = [{}]\n", list(roles));
    if !skills.is_empty() {
        toml.push_str(&format!("skills = [{}]\n", list(skills)));
    }
    if let Some(prices) = centre {
        toml.push_str("\n[farm]\npoll_ms = 100\nstagger_ms = 0\n");
        toml.push_str(&centre_table(prices));
    }
    for p in printers {
        toml.push_str(&format!(
            r#"
[[printer]]
name = "{name}"
auto_eject = true
materials = ["{material}"]
bed = {{ x_mm = 250, y_mm = 210, z_mm = 210 }}
nozzle_mm = 0.4
driver = {{ kind = "sim", time_scale = {scale} }}
"#,
            name = p.name,
            material = p.material,
            scale = p.time_scale
        ));
    }
    std::fs::write(dir.join("amspd.toml"), toml).expect("amspd.toml");
}

/// The JSON an `amsp … --json` run printed; panics with its output if it failed.
pub fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "amsp failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// What a command that must succeed printed on stdout; panics with its output if it failed.
pub fn said(out: &Output) -> String {
    assert!(
        out.status.success(),
        "amsp failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a command that must be refused printed on stderr; panics if it succeeded.
pub fn refused(out: &Output) -> String {
    assert!(!out.status.success(), "amsp succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `amsp order show ID --json` on `node`.
pub fn show(node: &NodeProcess, id: &str) -> Value {
    json_of(&node.amsp(&["order", "show", id, "--json"]))
}

/// The order's stage on `node`, or empty while the node does not hold it.
pub fn stage(node: &NodeProcess, id: &str) -> String {
    let out = node.amsp(&["order", "show", id, "--json"]);
    if !out.status.success() {
        return String::new();
    }
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v["state"].as_str().map(String::from))
        .unwrap_or_default()
}

/// Waits until the order is in stage `want` on `node`.
pub async fn wait_stage(node: &NodeProcess, id: &str, want: &str, secs: u64) {
    let what = format!("order {id} to be {want} on {}", node.dir.display());
    wait_for(&what, Duration::from_secs(secs), || async { stage(node, id) == want }).await;
}

/// Waits until the order's log on `node` holds an event named `action`.
pub async fn wait_action(node: &NodeProcess, id: &str, action: &str, secs: u64) {
    let what = format!("order {id} to log {action} on {}", node.dir.display());
    wait_for(&what, Duration::from_secs(secs), || async {
        let out = node.amsp(&["order", "show", id, "--json"]);
        out.status.success()
            && serde_json::from_slice::<Value>(&out.stdout)
                .is_ok_and(|v| actions(&v).iter().any(|a| a == action))
    })
    .await;
}

/// `amsp order create --model MODEL --material M --quantity N --tolerance 0.2 --json` on the
/// user's node;
/// returns the order id.
pub fn create(user: &NodeProcess, model: &str, material: &str, quantity: u32) -> String {
    let q = quantity.to_string();
    let v = json_of(&user.amsp(&[
        "order",
        "create",
        "--model",
        model,
        "--material",
        material,
        "--quantity",
        &q,
        "--tolerance",
        "0.2",
        "--json",
    ]));
    v["id"].as_str().expect("an order id").to_string()
}

/// Whether `node` holds an active alert about `subject` whose message says `words`.
pub async fn alerted(node: &NodeProcess, subject: &str, words: &str) -> bool {
    node.client.alerts().await.is_ok_and(|alerts| {
        alerts.iter().any(|a| a.is_active() && a.subject == subject && a.message.contains(words))
    })
}

/// The names of the events in an order view, in log order.
pub fn actions(view: &Value) -> Vec<String> {
    view["events"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// The designer packages the 20 mm cube for `user` with a licence note, signs a licence for
/// `prints` prints and the user keeps it; returns the model's content id.
pub async fn licensed_cube(designer: &NodeProcess, user: &NodeProcess, prints: u32) -> String {
    let cube = crate::fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let bytes = std::fs::read(cube).expect("the cube fixture");
    let note = format!("{prints} prints per licence");
    let model = designer
        .client
        .add_model("licensed-cube.stl", bytes, std::slice::from_ref(&user.peer_id), Some(&note))
        .await
        .expect("the designer adds the model");
    let n = prints.to_string();
    let out = designer.amsp(&[
        "licence",
        "issue",
        "--model",
        &model,
        "--licensee",
        &user.peer_id,
        "--prints",
        &n,
    ]);
    let licence = String::from_utf8_lossy(&json_ok(&out)).trim().to_string();
    json_ok(&user.amsp(&["licence", "add", &licence]));
    model
}

/// The output of a command that must succeed.
fn json_ok(out: &Output) -> Vec<u8> {
    assert!(out.status.success(), "amsp failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout.clone()
}
