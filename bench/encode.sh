#!/bin/bash
# encode.sh — the encoder benchmark: ragd (own kernels and OpenBLAS) beside
# PyTorch and ONNX Runtime on the same token ids, in one run, as one table of
# sentences/s and tokens/s with ratios. Forward pass only (tokenisation is
# done once, up front, by ragd's tokenizer for every engine).
#
#   bench/encode.sh [BUILD_DIR] [SECONDS_PER_CASE]
#
# Needs: the build's bench/bench_encode; python3-torch and
# libopenblas0-pthread (Debian); onnxruntime-node under bench/node_modules:
#   (cd bench && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install)
# Env: RAGD_SHARED_DIR (default ../shared beside the checkout), ENGINES
# (default "ragd torch ort").
set -euo pipefail
# The peers' packages (not needed by the tests, so not in scripts/packages.txt).
for p in python3-torch libopenblas0-pthread; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
seconds=${2:-1}
shared=${RAGD_SHARED_DIR:-$here/../../shared}
model=$shared/models/minilm-l6-h384-random
engines=${ENGINES:-ragd torch ort}
py=/usr/bin/python3 # Debian's, where python3-torch lives
work=$build/bench-encode
mkdir -p "$work"
out=$work/results.txt
: > "$out"

"$build/bench/bench_encode" --model-dir "$model" --write-inputs "$work/inputs.jsonl" 2>/dev/null
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"

for e in $engines; do
  case $e in
  ragd)
    nice -n 0 "$build/bench/bench_encode" --model-dir "$model" --threads 2 --seconds "$seconds" --peak \
      2>/dev/null | tee -a "$out" ;;
  torch)
    # passive OpenMP waiting: PyTorch's spinning threads otherwise fight
    # OpenBLAS's for the two cores (a 5–10× slowdown here)
    OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=2 "$py" "$here/encode_torch.py" "$model" "$work/inputs.jsonl" \
      --threads 2 --seconds "$seconds" | tee -a "$out" ;;
  ort)
    [ -s "$work/minilm-twin.onnx" ] || "$py" "$here/export_onnx.py" "$model" "$work/minilm-twin.onnx" >/dev/null 2>&1
    node "$here/encode_ort.js" "$work/minilm-twin.onnx" "$work/inputs.jsonl" --threads 2 --seconds "$seconds" \
      | tee -a "$out" ;;
  esac
done

"$py" - "$out" <<'PY'
import sys, collections
rows = collections.OrderedDict(); lat = {}; peak = []
for line in open(sys.argv[1]):
    f = line.split()
    if not f: continue
    if f[0] == "RESULT":
        eng, s, b, sent, tok, t = f[1], f[2], int(f[3]), int(f[4]), int(f[5]), float(f[6])
        rows.setdefault((s, b), {})[eng] = (sent / t, tok / t)
    elif f[0] == "LATENCY":
        lat[f[1]] = (float(f[3]), int(f[4]))
    elif f[0] == "PEAK":
        peak.append(" ".join(f[1:]))
    elif f[0] == "KERNEL":
        peak.append("matrix product, " + " ".join(f[1:]))
    elif f[0] == "INT8":
        peak.append("int8 vs fp32: " + " ".join(f[1:]))
engines = [e for e in ("ragd", "ragd-openblas", "ragd-int16", "ragd-int8", "torch", "ort") if any(e in r for r in rows.values())]
print()
print("forward pass, sentences/s (tokens/s of ragd); ratios ragd / peer, same run")
hdr = "%-9s %5s " % ("set", "batch") + " ".join("%13s" % e for e in engines) + " %10s" % "ragd tok/s"
peers = [e for e in engines if e != "ragd"]
hdr += "".join("  %10s" % ("x " + p) for p in peers)
print(hdr); print("-" * len(hdr))
for (s, b), r in rows.items():
    line = "%-9s %5d " % (s, b) + " ".join("%13.1f" % r[e][0] if e in r else "%13s" % "-" for e in engines)
    line += " %10.0f" % r["ragd"][1] if "ragd" in r else " %10s" % "-"
    for p in peers:
        line += "  %10s" % ("%.2fx" % (r["ragd"][0] / r[p][0]) if "ragd" in r and p in r else "-")
    print(line)
print()
for e in engines:
    if e in lat:
        extra = "  (%.2fx ragd's time)" % (lat[e][0] / lat["ragd"][0]) if e != "ragd" and "ragd" in lat else ""
        print("one query (%d pieces), batch 1, median: %-13s %7.3f ms%s" % (lat[e][1], e, lat[e][0], extra))
print()
for p in peak:
    print(p)
PY
