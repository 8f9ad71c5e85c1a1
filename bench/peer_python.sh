#!/usr/bin/env bash
# peer_python.sh — the Python system (../shared/peers/python-system: FastAPI +
# uvicorn + PyTorch, its gateway and model service, one vector per article) as
# a benchmark peer of ragd: installs its Debian packages, builds its store once
# per model and corpus (cached), starts and stops it. bench/ask.sh drives it
# with PEER=python; the steps also run by hand:
#
#   bench/peer_python.sh deps              install the peer's packages that are missing
#   bench/peer_python.sh model DATA_DIR    print the model folder of the ragd store in DATA_DIR
#   bench/peer_python.sh store MODEL_DIR   print the cached .npz for MODEL_DIR, building it
#                                          first when missing (load.py, ~4 min of 2 cores)
#   bench/peer_python.sh start RUN_DIR NPZ MODEL_DIR
#                                          copy the peer into RUN_DIR, start it on free ports,
#                                          print its gateway's URL
#   bench/peer_python.sh stop RUN_DIR      stop both services
#
# Environment: PEER_DIR (default ../shared/peers/python-system), PEER_CACHE
# (default bench/.cache, gitignored), RAGD_MODEL_DIR (looked at when finding
# the store's model), TORCH_THREADS etc. (passed to the peer's run.sh).
# The packages are bench-only: nothing in ragd or its tests needs them, so they
# are not in scripts/packages.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peer_src=${PEER_DIR:-$root/../shared/peers/python-system}
cache=${PEER_CACHE:-$root/bench/.cache}
csv="$root/../shared/data/news-articles/Articles.csv"
PY=/usr/bin/python3
packages=(python3-torch python3-fastapi python3-uvicorn python3-httpx python3-numpy
          python3-prometheus-client wrk)

die() { echo "peer_python.sh: $*" >&2; exit 1; }

deps() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "peer_python.sh: installing ${missing[*]}" >&2
  local log
  log=$(mktemp)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    die "apt-get could not install ${missing[*]} (run as root; apt-get update first?)"
  fi
  rm -f "$log"
}

# The store records the model that built it (store.bin's header, src/store/format.h:
# magic[8], version, dim, model[64]); the peer must encode with the same one, found
# where ragd looks for it.
model() {
  local data=$1 id dir
  [ -f "$data/store.bin" ] || die "no ragd store in $data"
  id=$(head -c 80 "$data/store.bin" | "$PY" -c '
import sys
h = sys.stdin.buffer.read()
if h[:8] != b"RAGDSTOR": sys.exit("not a ragd store.bin")
print(h[16:80].split(b"\0")[0].decode())') || die "cannot read the model of $data/store.bin"
  for dir in ${RAGD_MODEL_DIR:+"$RAGD_MODEL_DIR" "$(dirname "$RAGD_MODEL_DIR")/$id"} \
             "$root/models/$id" "$root/../shared/models/$id"; do
    if [ "$(basename "$dir")" = "$id" ] && [ -f "$dir/model.safetensors" ]; then
      (cd "$dir" && pwd)
      return 0
    fi
  done
  die "the store in $data was built with $id, whose weights (model.safetensors) are not in ./models or ../shared/models"
}

# The .npz depends on the weights, the corpus and the peer's encoder and loader,
# so its name carries a checksum of all four: a change of any one builds anew.
store() {
  local model_dir=$1 key npz
  [ -f "$model_dir/model.safetensors" ] || die "no model.safetensors in $model_dir"
  [ -f "$csv" ] || die "corpus not found at $csv"
  key=$(cat "$model_dir/model.safetensors" "$csv" "$peer_src/load.py" "$peer_src/minilm_torch.py" |
        sha256sum | cut -c1-16)
  npz="$cache/pysys-$(basename "$model_dir")-$key.npz"
  if [ ! -f "$npz" ]; then
    mkdir -p "$cache"
    echo "peer_python.sh: encoding the corpus for the Python system (once, cached in $npz; ~4 min)" >&2
    # load.py writes OUT.tmp.npz and renames it: an interrupted build leaves no .npz
    nice "$PY" "$peer_src/load.py" "$model_dir" "$npz" "$csv" >&2 || die "load.py failed"
  fi
  echo "$npz"
}

start() {
  local run=$1 npz=$2 model_dir=$3 ports
  mkdir -p "$run"
  rm -rf "$run/peer"
  cp -r "$peer_src" "$run/peer"  # the shared folder is read-only; run.sh writes beside itself
  chmod -R u+w "$run/peer"
  ports=$("$PY" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
  read -r app_port llm_port <<<"$ports"
  STORE="$npz" MODEL_DIR="$model_dir" RUN_DIR="$run/state" ACCESS_LOG="${ACCESS_LOG:-1}" \
    "$run/peer/run.sh" "$app_port" "$llm_port" >&2 || die "the Python system did not start (logs in $run/state)"
  echo "http://127.0.0.1:$app_port"
}

stop() {
  local run=$1
  [ -x "$run/peer/run.sh" ] || return 0
  RUN_DIR="$run/state" "$run/peer/run.sh" stop >/dev/null
}

case ${1:-} in
  deps) deps ;;
  model) [ $# -eq 2 ] || die "usage: model DATA_DIR"; model "$2" ;;
  store) [ $# -eq 2 ] || die "usage: store MODEL_DIR"; store "$2" ;;
  start) [ $# -eq 4 ] || die "usage: start RUN_DIR NPZ MODEL_DIR"; start "$2" "$3" "$4" ;;
  stop) [ $# -eq 2 ] || die "usage: stop RUN_DIR"; stop "$2" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
