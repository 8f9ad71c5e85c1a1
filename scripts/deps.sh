#!/usr/bin/env bash
# deps.sh — install the Debian packages ragd needs (scripts/packages.txt) that
# are not installed yet, then pgvector (scripts/pgvector.sh). Needs root (or
# sudo) only when something is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
missing=()
while read -r p condition; do
  # "unless-command=CMD": not needed where CMD exists (npm bundled with a nodesource nodejs).
  if [[ $condition == unless-command=* ]] && command -v "${condition#unless-command=}" >/dev/null; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$here/packages.txt")
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# pgvector has no bookworm package: build Debian's source package (skips when installed).
"$here/pgvector.sh"
