#!/usr/bin/env bash
# Installs, from Debian's packages, whatever building and testing mod_pyrite
# needs and this machine lacks. Does nothing when everything is present.
set -euo pipefail

need_pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in apache2 apache2-dev libclang-dev python3 libpython3-dev python3-venv python3-flask python3-django curl openssl procps "$@"; do
  have_pkg "$p" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing: ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  # Debian starts the packaged apache2 service on install where it can; the
  # project never uses it, and it would hold port 80.
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo (Rust) is not installed: install it with rustup (https://rustup.rs) and run this again" >&2
  exit 1
fi
# make test checks formatting (cargo fmt) and lints (cargo clippy): both are
# components of the toolchain, which a minimal rustup profile leaves out.
missing=()
cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
if [ ${#missing[@]} -gt 0 ]; then
  echo "adding the Rust components: ${missing[*]}"
  if command -v rustup >/dev/null 2>&1; then
    rustup component add "${missing[@]}"
  else
    # Debian's own toolchain (cargo from apt): its packages for the same tools.
    debs=()
    for m in "${missing[@]}"; do
      case "$m" in clippy) debs+=(rust-clippy) ;; *) debs+=("$m") ;; esac
    done
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
  fi
fi
