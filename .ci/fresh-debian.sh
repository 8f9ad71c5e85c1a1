#!/usr/bin/env bash
# fresh-debian.sh — run a command inside a bare Debian 12 ("bookworm", debootstrap
# --variant=minbase) that holds nothing but Debian's base, with this checkout at
# /ci/main and ../shared at /ci/shared (read-only) inside it.
#
#   .ci/fresh-debian.sh 'cd /ci/main && ./scripts/test.sh'
#
# Why: CI's own machine keeps what earlier work installed by hand, so a package
# missing from scripts/packages.txt passes there and fails on a user's fresh
# machine. Inside this root every package the build and the tests need must come
# through scripts/deps.sh.
#
# What is cached between runs (RAGD_CI_CACHE, default /var/cache/ragd-ci): the
# debootstrap result as a tarball (rebuilt after a week), and the .deb files apt
# downloads (a download cache only: each run starts from the bare base and
# installs everything again). The mirror is taken from this machine's own apt
# sources, so no host name is written into the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
shared=$(cd "$repo/../shared" && pwd)
cache=${RAGD_CI_CACHE:-/var/cache/ragd-ci}
suite=bookworm
[ $# -eq 1 ] || { echo "usage: fresh-debian.sh 'COMMAND'" >&2; exit 2; }

command -v debootstrap >/dev/null || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

# The first "deb" URI of the machine's apt sources (deb822 or one-line format).
mirror=$(grep -hs -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
[ -n "$mirror" ] || mirror=$(grep -hs -E '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -1 || true)
[ -n "$mirror" ] || { echo "fresh-debian: no Debian mirror in this machine's apt sources" >&2; exit 1; }

mkdir -p "$cache/archives/partial"
tarball="$cache/$suite-minbase.tar.gz"
if [ ! -s "$tarball" ] || [ -n "$(find "$tarball" -mtime +7)" ]; then
  echo "fresh-debian: debootstrap --variant=minbase $suite (cached for later runs)"
  tmp=$(mktemp -d)
  debootstrap --variant=minbase "$suite" "$tmp/root" "$mirror" >"$tmp/log" 2>&1 ||
    { tail -20 "$tmp/log" >&2; rm -rf "$tmp"; exit 1; }
  rm -rf "$tmp/root/var/cache/apt/archives/"*.deb
  tar -C "$tmp/root" -czf "$tarball.new" . && mv "$tarball.new" "$tarball"
  rm -rf "$tmp"
fi

work=$(mktemp -d /tmp/ragd-fresh.XXXXXX)
root="$work/root"
mounts=()
cleanup() {
  # End whatever still runs inside the root, then undo the mounts, innermost first.
  local pids p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && pids+=" ${p#/proc/}"
  done
  [ -n "${pids:-}" ] && kill -9 $pids 2>/dev/null
  sleep 0.5
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
bind() { # source, target inside the root, [ro]
  mkdir -p "$root$2"
  mount --bind "$1" "$root$2"; mounts+=("$root$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$root$2"; fi
}

mkdir -p "$root"
tar -C "$root" -xzf "$tarball"
# What a fresh machine would have of its own: name resolution and the package sources.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/hosts "$root/etc/hosts"
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
security=$(grep -hs -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep security | head -1 || true)
if [ -n "$security" ]; then
  printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$security" "$suite" >>"$root/etc/apt/sources.list.d/debian.sources"
fi
# This machine's certificate authorities (a sandbox's network may re-sign TLS
# with its own): the bundle, the local CAs that update-ca-certificates adds back
# when Debian's ca-certificates is installed inside, and npm's global cafile.
mkdir -p "$root/etc/ssl/certs" "$root/usr/local/share/ca-certificates"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/" 2>/dev/null || true
cp -L /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
[ -f /etc/npmrc ] && cp /etc/npmrc "$root/etc/npmrc"
# The mirror may serve a dated snapshot: accept its Release files' dates.
printf 'Acquire::Check-Valid-Until "false";\nAcquire::Check-Date "false";\n' >"$root/etc/apt/apt.conf.d/99ci-snapshot"

mount -t proc proc "$root/proc"; mounts+=("$root/proc")
bind /sys /sys ro
bind /dev /dev
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" 2>/dev/null && mounts+=("$root/dev/pts") || true
mkdir -p "$root/dev/shm"
mount -t tmpfs -o size=2g shm "$root/dev/shm"; mounts+=("$root/dev/shm")
bind "$cache/archives" /var/cache/apt/archives
bind "$repo" /ci/main
bind "$shared" /ci/shared ro

echo "fresh-debian: $(chroot "$root" sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), $(chroot "$root" dpkg-query -W -f='.\n' | wc -l) packages installed"
# A clean environment, as a root login on a new machine has it (with the
# machine's CA settings, which belong to its network, and the OpenBLAS core
# type some processors here are given because older OpenBLAS miscomputes on them).
env -i HOME=/root TERM=dumb LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  CI="${CI:-}" RAGD_FUZZ_SECONDS="${RAGD_FUZZ_SECONDS:-}" \
  ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"} \
  ${SSL_CERT_FILE:+SSL_CERT_FILE="$SSL_CERT_FILE"} ${CURL_CA_BUNDLE:+CURL_CA_BUNDLE="$CURL_CA_BUNDLE"} \
  ${OPENBLAS_CORETYPE:+OPENBLAS_CORETYPE="$OPENBLAS_CORETYPE"} ${OPENBLAS_L2_SIZE:+OPENBLAS_L2_SIZE="$OPENBLAS_L2_SIZE"} \
  chroot "$root" /bin/bash -c "$1"
