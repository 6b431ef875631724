#!/usr/bin/env bash
# Scan inspection against CloudCompare (the referee) on the same inputs.
#
# A scan is synthesised from a fixture model (area-weighted points on the facets a scanner can
# see — none on facets buried inside another shell —, sensor noise σ = 0.02 mm along the
# normal, 0.2 % stray points) as binary PLY, N points (default 1 000 000), twice:
# in the model's frame (for cloud-to-mesh distances) and moved by a known small pose (for ICP,
# which CloudCompare needs started near the answer). Both tools then run on the same files:
#   C2M:  amsp inspect --aligned          vs  CloudCompare -C2M_DIST (signed, exact)
#   ICP:  amsp inspect --no-coarse        vs  CloudCompare -ICP -C2M_DIST
#   full: amsp inspect (coarse + ICP)         (CloudCompare has no coarse step on the CLI)
# and the script prints wall times, their ratio, the difference of mean and max distances and
# each tool's error on the known pose. Wall times include reading the files for both.
#
# Usage: bench/inspect.sh [N]     (AMSP=path/to/amsp to skip the release build;
#                                  MODEL=file.obj to use another fixture)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
model=${MODEL:-$root/fixtures/models/prusaslicer/extruder_idler.obj}

if ! command -v CloudCompare >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cloudcompare xvfb xauth >/dev/null
  else
    echo "CloudCompare is missing: apt-get install cloudcompare xvfb (as root)" >&2
    exit 1
  fi
fi
# CloudCompare is a Qt application even on its command line: it needs a display, which
# xvfb-run provides (QT_QPA_PLATFORM=offscreen also works for the command-line mode).
cc() { xvfb-run -a CloudCompare -SILENT -NO_TIMESTAMP -AUTO_SAVE OFF "$@"; }

if [ -z "${AMSP:-}" ]; then
  (cd "$root" && cargo build --release -q -p amsp-console --bin amsp)
  AMSP=${CARGO_TARGET_DIR:-$root/target}/release/amsp
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$model" "$tmp/model.obj"

python3 - "$tmp/model.obj" "$n" "$tmp" <<'PY'
import math, random, struct, sys
path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
vs, tris = [], []
for line in open(path):
    t = line.split()
    if not t: continue
    if t[0] == 'v': vs.append(tuple(map(float, t[1:4])))
    elif t[0] == 'f':
        idx = [int(x.split('/')[0]) for x in t[1:]]
        idx = [i - 1 if i > 0 else len(vs) + i for i in idx]
        for k in range(1, len(idx) - 1): tris.append((idx[0], idx[k], idx[k + 1]))
def sub(a, b): return (a[0]-b[0], a[1]-b[1], a[2]-b[2])
def cross(a, b): return (a[1]*b[2]-a[2]*b[1], a[2]*b[0]-a[0]*b[2], a[0]*b[1]-a[1]*b[0])
# A scanner sees only the part's outer surface: where the model is drawn as overlapping shells,
# facets whose centre lies inside another shell (by ray parity) are buried and get no points.
parent = list(range(len(vs)))
def find(i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]; i = parent[i]
    return i
for a, b, c in tris:
    for x in (b, c):
        ra, rx = find(a), find(x)
        if ra != rx: parent[ra] = rx
shell_of = [find(a) for a, _, _ in tris]
by_shell = {}
for t, s in zip(tris, shell_of): by_shell.setdefault(s, []).append(tuple(vs[i] for i in t))
RAY = (0.8584214, 0.4201059, 0.2943151)
def crosses(o, tri):
    A, B, C = tri
    e1, e2 = sub(B, A), sub(C, A)
    p = cross(RAY, e2); det = sum(e1[i] * p[i] for i in range(3))
    if abs(det) < 1e-12: return False
    tv = sub(o, A); u = sum(tv[i] * p[i] for i in range(3)) / det
    if u < 0 or u > 1: return False
    q = cross(tv, e1); v = sum(RAY[i] * q[i] for i in range(3)) / det
    if v < 0 or u + v > 1: return False
    return sum(e2[i] * q[i] for i in range(3)) / det > 1e-9
def buried(t, s):
    o = tuple(sum(vs[i][k] for i in t) / 3 for k in range(3))
    return any(sum(crosses(o, f) for f in fs) % 2 for r, fs in by_shell.items() if r != s)
if len(by_shell) > 1:
    kept = [t for t, s in zip(tris, shell_of) if not buried(t, s)]
    print('sampling %d of %d facets: %d lie inside another shell' % (len(kept), len(tris), len(tris) - len(kept)), file=sys.stderr)
    tris = kept
geo, cdf, acc = [], [], 0.0
for a, b, c in tris:
    A, B, C = vs[a], vs[b], vs[c]
    nrm = cross(sub(B, A), sub(C, A)); l = math.sqrt(sum(x*x for x in nrm))
    if l == 0: continue
    acc += l / 2; cdf.append(acc); geo.append((A, sub(B, A), sub(C, A), tuple(x / l for x in nrm)))
lo = [min(v[i] for v in vs) for i in range(3)]; hi = [max(v[i] for v in vs) for i in range(3)]
rng = random.Random(42)
import bisect
pts = []
for _ in range(n):
    if rng.random() < 0.002:
        pts.append(tuple(lo[i] + rng.random() * (hi[i] - lo[i]) for i in range(3))); continue
    A, ab, ac, nr = geo[min(bisect.bisect_left(cdf, rng.random() * acc), len(geo) - 1)]
    u, v = rng.random(), rng.random()
    if u + v > 1: u, v = 1 - u, 1 - v
    e = rng.gauss(0, 0.02)
    pts.append(tuple(A[i] + u*ab[i] + v*ac[i] + e*nr[i] for i in range(3)))
# The known pose: 3° about (1, 2, 2)/3 through the part's centre, then (1.2, -0.8, 0.5) mm.
ang = math.radians(3.0); ax = (1/3, 2/3, 2/3); c, s = math.cos(ang), math.sin(ang)
x, y, z = ax
R = [[c+x*x*(1-c), x*y*(1-c)-z*s, x*z*(1-c)+y*s],
     [y*x*(1-c)+z*s, c+y*y*(1-c), y*z*(1-c)-x*s],
     [z*x*(1-c)-y*s, z*y*(1-c)+x*s, c+z*z*(1-c)]]
ctr = [(lo[i] + hi[i]) / 2 for i in range(3)]
t = [ctr[i] - sum(R[i][j]*ctr[j] for j in range(3)) + (1.2, -0.8, 0.5)[i] for i in range(3)]
with open(out + '/pose.txt', 'w') as f:
    for i in range(3): f.write(' '.join('%.12f' % v for v in R[i] + [t[i]]) + '\n')
    f.write('0 0 0 1\n')
def write(name, ps):
    with open(out + '/' + name, 'wb') as f:
        f.write(('ply\nformat binary_little_endian 1.0\nelement vertex %d\n'
                 'property float x\nproperty float y\nproperty float z\nend_header\n' % len(ps)).encode())
        f.write(b''.join(struct.pack('<3f', *p) for p in ps))
write('aligned.ply', pts)
write('posed.ply', [tuple(sum(R[i][j]*p[j] for j in range(3)) + t[i] for i in range(3)) for p in pts])
PY

now() { date +%s.%N; }
stats_py='
import sys
d = [float(l.split()[3]) for l in open(sys.argv[1]) if l.strip()]
print("%.9f %.9f %.9f %.9f" % (sum(d)/len(d), max(abs(x) for x in d), max(d), min(d)))'
json() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print(' '.join(str(eval(e, {}, {'v': v})) for e in sys.argv[2:]))" "$@"; }

echo "model $(basename "$model"), $n points"

# --- C2M on the aligned scan ---
t0=$(now); "$AMSP" inspect "$tmp/aligned.ply" "$tmp/model.obj" --tolerance 0.1 --aligned --json >"$tmp/ours.json" || true; t1=$(now)
ours_c2m=$(echo "$t1 - $t0" | bc -l)
t0=$(now); cc -O "$tmp/aligned.ply" -O "$tmp/model.obj" -C2M_DIST >"$tmp/cc.log" 2>&1; t1=$(now)
cc_c2m=$(echo "$t1 - $t0" | bc -l)
cc -O "$tmp/aligned.ply" -O "$tmp/model.obj" -C2M_DIST -C_EXPORT_FMT ASC -PREC 9 -SAVE_CLOUDS FILE "$tmp/cc.asc" >/dev/null 2>&1
read -r cc_mean cc_max cc_pos cc_neg < <(python3 -c "$stats_py" "$tmp/cc.asc")
read -r our_mean our_max our_pos our_neg < <(json "$tmp/ours.json" "v['mean_mm']" "v['max_mm']" "v['max_excess_mm']" "v['max_missing_mm']")
printf 'C2M  amsp %.2f s  CloudCompare %.2f s  ratio CC/amsp %.2f\n' "$ours_c2m" "$cc_c2m" "$(echo "$cc_c2m / $ours_c2m" | bc -l)"
printf '     mean  amsp %.6f  CC %.6f  diff %.3g mm\n' "$our_mean" "$cc_mean" "$(echo "$our_mean - $cc_mean" | bc -l)"
printf '     max|d| amsp %.6f  CC %.6f  diff %.3g mm\n' "$our_max" "$cc_max" "$(echo "$our_max - $cc_max" | bc -l)"
printf '     max+ amsp %.6f CC %.6f; max- amsp %.6f CC %.6f\n' "$our_pos" "$cc_pos" "$our_neg" "$cc_neg"

# --- ICP from the known pose ---
pose_err='
import sys, math
def load(p): return [list(map(float, l.split())) for l in open(p) if l.strip()][:4]
P, M = load(sys.argv[1]), load(sys.argv[2])
# residual = M · P, which should be the identity
Q = [[sum(M[i][k]*P[k][j] for k in range(4)) for j in range(4)] for i in range(4)]
# atan2 of the skew part and the trace: acos alone loses small angles
sk = math.sqrt((Q[2][1]-Q[1][2])**2 + (Q[0][2]-Q[2][0])**2 + (Q[1][0]-Q[0][1])**2) / 2
ang = math.degrees(math.atan2(sk, (Q[0][0]+Q[1][1]+Q[2][2]-1)/2))
lo = [float(x) for x in sys.argv[3:6]]; hi = [float(x) for x in sys.argv[6:9]]
worst = 0
for k in range(8):
    c = [hi[i] if k >> i & 1 else lo[i] for i in range(3)]
    q = [sum(Q[i][j]*c[j] for j in range(3)) + Q[i][3] for i in range(3)]
    worst = max(worst, math.dist(q, c))
print("%.6f mm %.6f deg" % (worst, ang))'
bbox=$(python3 -c "
import sys
vs=[tuple(map(float,l.split()[1:4])) for l in open('$tmp/model.obj') if l.startswith('v ')]
print(' '.join(str(min(v[i] for v in vs)) for i in range(3)), ' '.join(str(max(v[i] for v in vs)) for i in range(3)))")
t0=$(now); "$AMSP" inspect "$tmp/posed.ply" "$tmp/model.obj" --tolerance 0.1 --no-coarse --json >"$tmp/ours-icp.json" || true; t1=$(now)
ours_icp=$(echo "$t1 - $t0" | bc -l)
t0=$(now); cc -O "$tmp/posed.ply" -O "$tmp/model.obj" -ICP -MIN_ERROR_DIFF 1e-10 -RANDOM_SAMPLING_LIMIT 60000 -C2M_DIST >"$tmp/cc-icp.log" 2>&1; t1=$(now)
cc_icp=$(echo "$t1 - $t0" | bc -l)
python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['registration']['matrix']; print('\n'.join(' '.join(map(repr,r)) for r in m))" "$tmp/ours-icp.json" >"$tmp/ours-matrix.txt"
cc_matrix=$(ls "$tmp"/posed_REGISTRATION_MATRIX*.txt | head -1)
printf 'ICP+C2M  amsp %.2f s  CloudCompare %.2f s  ratio CC/amsp %.2f\n' "$ours_icp" "$cc_icp" "$(echo "$cc_icp / $ours_icp" | bc -l)"
echo "     pose error amsp: $(python3 -c "$pose_err" "$tmp/pose.txt" "$tmp/ours-matrix.txt" $bbox)"
echo "     pose error CC:   $(python3 -c "$pose_err" "$tmp/pose.txt" "$cc_matrix" $bbox)"
echo "     CC after ICP: $(grep -m1 'Mean distance' "$tmp/cc-icp.log" | sed 's/.*\] //'); amsp after ICP: mean $(json "$tmp/ours-icp.json" "round(v['mean_mm'],6)") std $(json "$tmp/ours-icp.json" "round(v['std_mm'],6)")"

# --- our full pipeline (coarse placement + ICP) on the posed scan ---
t0=$(now); "$AMSP" inspect "$tmp/posed.ply" "$tmp/model.obj" --tolerance 0.1 --json >"$tmp/ours-full.json" || true; t1=$(now)
python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['registration']['matrix']; print('\n'.join(' '.join(map(repr,r)) for r in m))" "$tmp/ours-full.json" >"$tmp/ours-full.txt"
printf 'full (coarse+ICP+C2M) amsp %.2f s, pose error %s, verdict %s\n' "$(echo "$t1 - $t0" | bc -l)" \
  "$(python3 -c "$pose_err" "$tmp/pose.txt" "$tmp/ours-full.txt" $bbox)" "$(json "$tmp/ours-full.json" "v['passed']")"
