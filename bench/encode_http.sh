#!/usr/bin/env bash
# encode_http.sh — the encoder as users meet it: POST /encode on `ragd model`,
# tokenisation and JSON included, driven by wrk over loopback.
#
#   bench/encode_http.sh [seconds-per-run]      (uses ./build/ragd)
#
# Inputs are the corpus headings (~12 word pieces), batch 1 and batch 32.
# Prints sentences/s, and, when bench/encode_ort.js and its node_modules are
# present, ONNX Runtime's forward-only rate on the same headings at batch 32
# measured in the same run, as a ratio.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
bin="$root/build/ragd"
shared="$root/../shared"
[ -x "$bin" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

python3 - "$shared/data/news-articles/Articles.csv" "$tmp" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="cp1252", newline="")))
heads = [r["Heading"].strip() for r in rows if r["Heading"].strip()]
with open(sys.argv[2] + "/b1.txt", "w") as f:
    for h in heads[:512]: f.write(json.dumps({"texts": [h]}) + "\n")
with open(sys.argv[2] + "/b32.txt", "w") as f:
    for i in range(0, 32 * 64, 32): f.write(json.dumps({"texts": heads[i:i + 32]}) + "\n")
with open(sys.argv[2] + "/heads.json", "w") as f: json.dump(heads[:32 * 64], f)
PY

"$bin" model --host 127.0.0.1 --port 0 2>"$tmp/log" &
pid=$!
port=""
for _ in $(seq 300); do
  port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$tmp/log" | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
  [ -n "$port" ] && break; sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/log"; exit 1; }
url="http://127.0.0.1:$port"

run() { # connections, bodies file → prints "req/s p50_ms p99_ms"
  local t=2; [ "$2" -lt 2 ] && t=1
  BODIES="$1" wrk -t"$t" -c"$2" -d"${secs}s" --latency -s "$root/bench/encode_http.lua" "$url" >"$tmp/wrk.out" 2>&1
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")
  p50=$(awk '$1=="50%" {print $2}' "$tmp/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$tmp/wrk.out")
  echo "$rps $p50 $p99"
}
ms() { # wrk latency ("812.00us", "1.52ms", "1.01s") → ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

curl -s -o /dev/null -H 'Content-Type: application/json' -d @<(head -1 "$tmp/b32.txt") "$url/encode" # warm up
printf "%-34s %12s %10s %10s\n" "POST /encode (headings)" "sentences/s" "p50 ms" "p99 ms"
read -r rps p50 p99 < <(run "$tmp/b1.txt" 1)
printf "%-34s %12.0f %10s %10s\n" "batch 1, 1 connection" "$rps" "$(ms "$p50")" "$(ms "$p99")"
b1_rps=$rps
read -r rps p50 p99 < <(run "$tmp/b1.txt" 32)
printf "%-34s %12.0f %10s %10s\n" "batch 1, 32 connections (batched)" "$rps" "$(ms "$p50")" "$(ms "$p99")"
read -r rps p50 p99 < <(run "$tmp/b32.txt" 1)
b32=$(awk -v r="$rps" 'BEGIN { printf "%.0f", r * 32 }')
printf "%-34s %12s %10s %10s\n" "batch 32, 1 connection" "$b32" "$(ms "$p50")" "$(ms "$p99")"
read -r rps p50 p99 < <(run "$tmp/b32.txt" 4)
b32c=$(awk -v r="$rps" 'BEGIN { printf "%.0f", r * 32 }')
printf "%-34s %12s %10s %10s\n" "batch 32, 4 connections" "$b32c" "$(ms "$p50")" "$(ms "$p99")"

# ONNX Runtime on the same 32-heading batches, forward pass only, same run.
if [ -f "$root/bench/encode_ort.js" ] && [ -d "$root/bench/node_modules/onnxruntime-node" ] && [ -f "$root/bench/out/minilm.onnx" ]; then
  ort=$(cd "$root/bench" && node encode_ort.js --model out/minilm.onnx --texts "$tmp/heads.json" --batch 32 --seconds "$secs" 2>/dev/null | awk '/sentences\/s/ {print $NF}' | tail -1)
  if [ -n "$ort" ]; then
    printf "%-34s %12.0f\n" "ONNX Runtime forward, batch 32" "$ort"
    awk -v a="$b32" -v b="$ort" 'BEGIN { printf "ratio ragd /encode batch 32 (HTTP+JSON) / ONNX Runtime forward: %.2fx\n", a / b }'
  fi
else
  echo "(ONNX Runtime peer not prepared: run bench/encode.sh once to export the model and install onnxruntime-node)"
fi
