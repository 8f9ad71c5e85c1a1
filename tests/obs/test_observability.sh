#!/usr/bin/env bash
# test_observability — the monitoring stack of deploy/ proven on real servers.
#
#  1. promtool checks deploy/prometheus.yml (both variants) and the alert
#     rules, and runs the rules' unit tests (deploy/alerts_test.yml).
#  2. A small slice of the real corpus is ingested; `ragd serve`, `ragd model`
#     and `ragd gateway` (calling that model service) start on loopback ports.
#  3. Debian's Prometheus starts on a free loopback port, scraping the three
#     roles every second under deploy/prometheus.yml's job names.
#  4. Traffic: /ask in every mode, JSON and SSE, through serve and gateway;
#     /health, /ready, /metrics; a 404 and a 422.
#  5. `promtool check metrics` lints each role's /metrics text; every PromQL
#     expression of deploy/grafana/dashboards/ragd.json (and its template
#     variables) runs through Prometheus's query API: each must return data.
#  6. Loki: Grafana Loki is not packaged in Debian 12 (Debian's `loki` package
#     is an unrelated genetics tool) and cannot be downloaded here, so unless
#     a Grafana Loki binary is found (RAGD_LOKI_BIN, or `loki` on PATH that
#     reports "loki, version"), that half is skipped with a message: the roles
#     then push (--loki-url) to a listener that records the pushes, which must
#     hold JSON log lines in app/role/level streams from every role, and every
#     LogQL expression is syntax-checked with Grafana's own LogQL grammar
#     (@grafana/lezer-logql from npm). With a Grafana Loki, the roles push to
#     it and every LogQL expression must return data from it.
#
# Environment: RAGD_BIN (the ragd binary), RAGD_SOURCE_DIR, RAGD_SHARED_DIR.
# Exit 0 pass, 1 fail, 77 skipped (Prometheus cannot be installed, or a ragd
# role the test needs does not exist in this build yet).
set -uo pipefail

src=${RAGD_SOURCE_DIR:?RAGD_SOURCE_DIR is not set}
shared=${RAGD_SHARED_DIR:?RAGD_SHARED_DIR is not set}
bin=${RAGD_BIN:?RAGD_BIN is not set}
dashboard=$src/deploy/grafana/dashboards/ragd.json
helper=$src/tests/obs/dashboard_queries.py
work=$(mktemp -d /tmp/ragd-obs.XXXXXX)
pids=()
failures=0

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '== [%3ds] %s\n' "$SECONDS" "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; failures=$((failures + 1)); }
skip_all() { printf 'SKIP: %s\n' "$*"; exit 77; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for CMD... : retry a probe for up to 30 s (a start-up bound, not a measurement).
wait_for() {
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# ---- 1. Prometheus and promtool ----
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's prometheus"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
      >"$work/apt.log" 2>&1 || tail -5 "$work/apt.log"
  fi
  command -v prometheus >/dev/null && command -v promtool >/dev/null ||
    skip_all "Debian's prometheus package is not installed and cannot be installed here (not root, or apt failed)"
fi
say "promtool: deploy/ configuration and alert rules"
promtool check config "$src/deploy/prometheus.yml" || fail "promtool check config deploy/prometheus.yml"
promtool check config "$src/deploy/compose/prometheus.yml" || fail "promtool check config deploy/compose/prometheus.yml"
promtool check rules "$src/deploy/alerts.yml" || fail "promtool check rules deploy/alerts.yml"
(cd "$src/deploy" && promtool test rules alerts_test.yml) || fail "promtool test rules deploy/alerts_test.yml"

# ---- Prometheus, started early: its targets are filled in once ragd listens ----
prom_port=$(free_port)
prom="http://127.0.0.1:$prom_port"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ragd
    file_sd_configs:
      - files: ["$work/targets-serve.json", "$work/targets-gateway.json"]
  - job_name: ragd-model
    file_sd_configs:
      - files: ["$work/targets-model.json"]
EOF
promtool check config "$work/prometheus.yml" >/dev/null || fail "generated prometheus.yml is invalid"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
pids+=($!)
say "prometheus on $prom"

# ---- Loki: a real Grafana Loki if there is one ----
loki_bin=${RAGD_LOKI_BIN:-}
if [ -z "$loki_bin" ] && command -v loki >/dev/null && loki -version 2>&1 | grep -q '^loki, version'; then
  loki_bin=$(command -v loki)
fi
loki_url=""
capture_pushes=0
if [ -n "$loki_bin" ]; then
  say "starting Grafana Loki ($loki_bin)"
  loki_port=$(free_port)
  loki_grpc=$(free_port)
  sed -e "s|http_listen_port: 3100|http_listen_port: $loki_port|" \
      -e "s|grpc_listen_port: 9096|grpc_listen_port: $loki_grpc|" \
      -e "s|/var/tmp/ragd-loki|$work/loki|g" "$src/deploy/loki.yaml" >"$work/loki.yaml"
  "$loki_bin" -config.file="$work/loki.yaml" >"$work/loki.log" 2>&1 &
  pids+=($!)
  loki_url="http://127.0.0.1:$loki_port"
  if ! wait_for curl -sf "$loki_url/ready"; then
    fail "Loki did not become ready"; tail -20 "$work/loki.log"; loki_url=""
  fi
fi
if [ -z "$loki_url" ]; then
  # No Loki: the roles push to a listener that records what they send, so the
  # --loki-url wiring and the push payloads are still checked (not Loki itself).
  capture_port=$(free_port)
  python3 - "$capture_port" "$work/pushes.jsonl" >"$work/capture.log" 2>&1 <<'EOF' &
import http.server, sys
class Push(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ok = self.path == "/loki/api/v1/push" and \
            self.headers.get("Content-Type", "").startswith("application/json")
        with open(sys.argv[2], "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204 if ok else 400)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Push).serve_forever()
EOF
  pids+=($!)
  loki_url="http://127.0.0.1:$capture_port"
  capture_pushes=1
fi

# ---- 2. ragd: a slice of the corpus, then the three serving roles ----
say "ingesting a slice of the corpus"
python3 - "$shared/data/news-articles/Articles.csv" "$work/slice.csv" <<'EOF'
import csv, sys
# The corpus is cp1252 with CRLF: keep both, and any byte cp1252 leaves undefined.
with open(sys.argv[1], encoding="cp1252", errors="surrogateescape", newline="") as f:
    rows = list(csv.reader(f))
header, body = rows[0], rows[1:]
topic = header.index("NewsType")
picked = [r for r in body if r[topic] == "business"][:6] + [r for r in body if r[topic] == "sports"][:6]
with open(sys.argv[2], "w", encoding="cp1252", errors="surrogateescape", newline="") as f:
    csv.writer(f, lineterminator="\r\n").writerows([header] + picked)
EOF
export RAGD_MODEL_DIR=${RAGD_MODEL_DIR:-$shared/models/minilm-l6-h384-random}
cd "$src" || exit 1
"$bin" ingest --csv "$work/slice.csv" --data-dir "$work/data" >"$work/ingest.log" 2>&1
rc=$?
if grep -q "not available in this build yet" "$work/ingest.log"; then
  skip_all "'ragd ingest' is not available in this build yet; this test runs once it is"
fi
[ $rc -eq 0 ] || { cat "$work/ingest.log"; fail "ragd ingest exited $rc"; exit 1; }

# start_role NAME ARGS... : start `ragd ARGS` on a free port; sets port_NAME.
start_role() {
  local name=$1; shift
  local log="$work/$name.log"
  local extra=()
  [ -n "$loki_url" ] && extra+=(--loki-url "$loki_url")
  "$bin" "$@" --host 127.0.0.1 --port 0 "${extra[@]}" >"$log" 2>&1 &
  pids+=($!)
  local port=""
  for _ in $(seq 300); do
    port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$log" | grep -o '[0-9]*$' | head -1)
    [ -n "$port" ] && break
    if grep -q "not available in this build yet" "$log"; then
      skip_all "'ragd $1' is not available in this build yet; this test runs once it is"
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then cat "$log"; fail "ragd $* did not start"; exit 1; fi
  printf -v "port_$name" '%s' "$port"
  say "ragd $1 listening on 127.0.0.1:$port"
}
start_role serve serve --data-dir "$work/data"
start_role model model
start_role gateway gateway --data-dir "$work/data" --model-url "http://127.0.0.1:$port_model"
wait_for curl -sf "$prom/-/ready" || { tail -20 "$work/prometheus.log"; fail "Prometheus did not become ready"; exit 1; }

# ---- 3. Prometheus now scrapes the three roles, with deploy/'s job names ----
write_targets() { # file role port
  printf '[{"targets": ["127.0.0.1:%s"], "labels": {"role": "%s"}}]\n' "$3" "$2" >"$1.tmp" && mv "$1.tmp" "$1"
}
write_targets "$work/targets-serve.json" serve "$port_serve"
write_targets "$work/targets-gateway.json" gateway "$port_gateway"
write_targets "$work/targets-model.json" model "$port_model"
all_up() {
  curl -sf "$prom/api/v1/targets" | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
sys.exit(0 if len(t) == 3 and all(x["health"] == "up" for x in t) else 1)'
}
wait_for all_up || { curl -s "$prom/api/v1/targets"; fail "not every ragd role is up in Prometheus"; exit 1; }
say "Prometheus scrapes all three roles"

# ---- 4. traffic ----
say "sending traffic"
ask() { # port body [extra curl args]
  local port=$1 body=$2; shift 2
  curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data "$body" "$@" "http://127.0.0.1:$port/ask"
}
questions=("Which companies reported profits?" "Who won the cricket match?")
for round in 1 2; do
  for port in "$port_serve" "$port_gateway"; do
    for q in "${questions[@]}"; do
      for mode in hybrid vector lexical; do
        code=$(ask "$port" "{\"question\": \"$q\", \"top_k\": 3, \"mode\": \"$mode\"}")
        [ "$code" = 200 ] || fail "POST /ask ($mode) on :$port answered $code"
      done
    done
    code=$(ask "$port" '{"question": "Any sports news?", "topic": "sports", "stream": true}')
    [ "$code" = 200 ] || fail "POST /ask (stream) on :$port answered $code"
    code=$(ask "$port" '{"question": ""}')
    [ "$code" = 422 ] || fail "POST /ask with an empty question on :$port answered $code, not 422"
  done
  for port in "$port_serve" "$port_gateway" "$port_model"; do
    for path in /health /ready /metrics /no-such-route; do
      curl -s -o /dev/null "http://127.0.0.1:$port$path"
    done
  done
  sleep 1.5 # let Prometheus scrape between rounds, so rate() sees increases
done
sleep 2.5 # the last round's scrape

# ---- 5. the exposition text itself, and every PromQL expression of the dashboard ----
for name in serve gateway model; do
  port_var="port_$name"
  curl -sf "http://127.0.0.1:${!port_var}/metrics" >"$work/metrics-$name.txt" ||
    fail "GET /metrics on ragd $name failed"
  promtool check metrics <"$work/metrics-$name.txt" ||
    fail "promtool check metrics finds problems in ragd $name's /metrics (see above)"
done
say "promtool check metrics: linted the /metrics of every role"

say "running every PromQL expression of deploy/grafana/dashboards/ragd.json"
python3 "$helper" promql "$dashboard" "$prom" || fail "dashboard PromQL without data (see above)"

# ---- 6. LogQL ----
python3 "$helper" list "$dashboard" loki >"$work/logql.txt" || fail "cannot list LogQL expressions"
say "$(wc -l <"$work/logql.txt") LogQL expressions in the dashboard"
if [ "$capture_pushes" = 1 ]; then
  say "checking the log lines the roles pushed (--loki-url)"
  python3 - "$work/pushes.jsonl" <<'EOF' || fail "the roles' Loki pushes are missing or malformed (see above)"
import json, sys
seen = {}
try:
    bodies = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
except FileNotFoundError:
    sys.exit("no push reached the listener: is --loki-url wired to loki_start()?")
for body in bodies:
    for stream in body["streams"]:
        labels = stream["stream"]
        assert labels.get("app") == "ragd", labels
        role = labels["role"]
        for ts, line in stream["values"]:
            assert ts.isdigit() and len(ts) >= 19, ts
            entry = json.loads(line)
            assert entry["level"] == labels["level"], (labels, entry)
            if entry.get("msg") == "request":
                seen.setdefault(role, set()).add(entry.get("route"))
for role, route in (("serve", "/ask"), ("gateway", "/ask"), ("model", "/encode")):
    routes = seen.get(role, set())
    print(f"{role}: request lines for {sorted(r for r in routes if r)}")
    if route not in routes:
        sys.exit(f"no request line for {route} pushed by role {role}")
print(f"{len(bodies)} pushes, streams labelled app/role/level, every line JSON")
EOF
fi
if [ "$capture_pushes" = 0 ] && [ -n "$loki_url" ]; then
  sleep 2 # the Loki clients batch for a second
  python3 "$helper" logql "$dashboard" "$loki_url" || fail "dashboard LogQL without data (see above)"
else
  echo "SKIP (Loki half): Grafana Loki is not packaged in Debian 12 (the Debian package 'loki' is an" \
       "unrelated genetics tool) and nothing else can be downloaded here, so the LogQL queries are not" \
       "run against a Loki server. Set RAGD_LOKI_BIN to a Grafana Loki binary to run them."
  node_dir=${RAGD_OBS_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ragd-obs-node}
  if [ ! -d "$node_dir/node_modules/@grafana/lezer-logql" ] && command -v npm >/dev/null; then
    mkdir -p "$node_dir"
    (cd "$node_dir" && timeout 120 npm install --no-audit --no-fund --silent @grafana/lezer-logql@0.4.2) \
      >"$work/npm.log" 2>&1 || tail -5 "$work/npm.log"
  fi
  if command -v node >/dev/null && [ -d "$node_dir/node_modules/@grafana/lezer-logql" ]; then
    say "syntax-checking the LogQL with Grafana's LogQL grammar"
    node "$src/tests/obs/logql_check.mjs" "$node_dir/node_modules" <"$work/logql.txt" ||
      fail "LogQL syntax errors (see above)"
  else
    echo "SKIP (LogQL syntax check): node/npm or the @grafana/lezer-logql package is not available"
  fi
fi

if [ $failures -ne 0 ]; then
  for f in "$work"/*.log; do echo "--- $(basename "$f") (last lines)"; tail -5 "$f"; done
  echo "test_observability: $failures failure(s)"
  exit 1
fi
echo "test_observability: passed"
