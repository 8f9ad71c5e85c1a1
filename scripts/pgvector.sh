#!/usr/bin/env bash
# pgvector.sh — build and install the pgvector extension for PostgreSQL 15.
#
# Debian 12 ships no pgvector package for its PostgreSQL 15, but Debian's own
# source package `pgvector` (trixie) builds against the bookworm server headers
# in seconds. This fetches it with `apt-get source` through a PRIVATE apt
# configuration (its own sources list, lists, cache and status under a cache
# dir; the system's apt configuration and package lists are not touched), whose
# deb-src line is derived at run time from the machine's existing apt sources
# (deb822 /etc/apt/sources.list.d/*.sources or one-line /etc/apt/sources.list),
# so no host is named in this repository. Then `make` with PostgreSQL 15's
# pg_config and `make install`.
#
# Idempotent: does nothing when vector.control of the wanted version is
# installed already. Needs root (or sudo) for the install step only.
#
#   scripts/pgvector.sh            # called by scripts/deps.sh
#   PGVECTOR_SUITE=trixie PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config scripts/pgvector.sh
set -euo pipefail
suite=${PGVECTOR_SUITE:-trixie}
want=${PGVECTOR_VERSION:-0.8.0}
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
cache=${RAGD_PGVECTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ragd-pgvector}

[ -x "$pg_config" ] || {
  echo "pgvector: $pg_config not found: install postgresql-server-dev-15 (scripts/deps.sh)" >&2
  exit 1
}
control="$("$pg_config" --sharedir)/extension/vector.control"
if [ -f "$control" ] && grep -q "^default_version = '$want'" "$control"; then
  exit 0 # already installed, the right version
fi

# The machine's first Debian mirror (not the security archive), either form.
mirror=$(grep -hs -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
[ -n "$mirror" ] || mirror=$(grep -hs -E '^deb ' /etc/apt/sources.list | awk '{ for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i; exit } }' | head -1 || true)
[ -n "$mirror" ] || { echo "pgvector: no Debian mirror in this machine's apt sources" >&2; exit 1; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p "$cache/lists/partial" "$cache/archives/partial" "$cache/etc/preferences.d" "$cache/src"
printf 'deb-src [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" >"$cache/etc/sources.list"
: >"$cache/status"
apt_private=(-o "Dir::Etc::sourcelist=$cache/etc/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::Etc::preferencesparts=$cache/etc/preferences.d" -o "Dir::State::Lists=$cache/lists"
  -o "Dir::State::status=$cache/status" -o "Dir::Cache=$cache" -o "Dir::Cache::archives=$cache/archives"
  -o "APT::Sandbox::User=root"
  # a mirror may serve a dated snapshot: accept its Release file's dates
  -o "Acquire::Check-Valid-Until=false" -o "Acquire::Check-Date=false")
echo "pgvector: fetching Debian's source package pgvector ($suite) through a private apt configuration" >&2
apt-get "${apt_private[@]}" update -qq >&2
rm -rf "$cache/src" && mkdir -p "$cache/src"
(cd "$cache/src" && apt-get "${apt_private[@]}" source -qq pgvector >&2)
srcdir=$(find "$cache/src" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -1)
[ -n "$srcdir" ] || { echo "pgvector: apt-get source gave no pgvector-* directory" >&2; exit 1; }
got=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$srcdir/vector.control")
[ "$got" = "$want" ] || echo "pgvector: note: source package has $got (wanted $want); building it" >&2

echo "pgvector: building $got with $pg_config" >&2
# OPTFLAGS="": no -march=native, so the build runs on any x86-64 machine it is copied to.
make -C "$srcdir" -s PG_CONFIG="$pg_config" OPTFLAGS="" >/dev/null
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo make -C "$srcdir" -s PG_CONFIG="$pg_config" install >/dev/null
echo "pgvector: installed $("$pg_config" --sharedir)/extension/vector.control ($got)" >&2
