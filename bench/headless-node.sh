# Sourced by bench scripts: a headless amspd as on a printer host, with two simulated printers
# from its configuration file (what docs/headless.md describes).
#   start_headless_amspd AMSPD DATA_DIR LOG   → sets amspd_pid
start_headless_amspd() {
  local amspd="$1" data="$2" log="$3"
  mkdir -p "$data"
  cat > "$data/amspd.toml" <<'TOML'
api = "127.0.0.1:0"

[[printer]]
name = "sim-left"
materials = ["PLA"]
bed = { x_mm = 250, y_mm = 210, z_mm = 220 }
nozzle_mm = 0.4
driver = { kind = "sim" }

[[printer]]
name = "sim-right"
materials = ["PETG"]
bed = { x_mm = 250, y_mm = 210, z_mm = 220 }
nozzle_mm = 0.4
driver = { kind = "sim" }
TOML
  RUST_LOG=warn "$amspd" -d "$data" --no-mdns --listen /ip4/127.0.0.1/tcp/0 >"$log" 2>&1 &
  amspd_pid=$!
}
