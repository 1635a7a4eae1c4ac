#!/usr/bin/env bash
# One-shot, idempotent setup for a fresh Debian 12 / Python 3.11 machine:
#   1. Debian packages (apt)         2. .venv with pinned wheels (torch CPU via constraints)
#   3. apeiria itself (editable)     4. ROS 2 interfaces built into the venv (scripts/build_interfaces.sh)
# Each step leaves a stamp keyed by the hash of its inputs, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${APEIRIA_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
STAMPS=$VENV/.stamps

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; echo "$2" > "$STAMPS/$1"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# 1. Debian packages --------------------------------------------------------------
APT_PKGS=$(sed 's/#.*//' requirements/apt.txt | tr -s ' \n' ' ')
missing=$(for p in $APT_PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done)
if [ -n "$missing" ]; then
  say "apt: installing $missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. Python environment -----------------------------------------------------------
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; $PY -m venv "$VENV"; }
req_hash=$(hash_of requirements/constraints.txt requirements/base.txt requirements/ros.txt)
if ! stamp_ok pip "$req_hash"; then
  say "pip: installing pinned wheels (torch CPU build pinned by requirements/constraints.txt)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -c requirements/constraints.txt \
      -r requirements/base.txt -r requirements/ros.txt 2> >(grep -v "is ignored: it is neither" >&2)
  stamp_set pip "$req_hash"
fi

# 3. apeiria itself -----------------------------------------------------------------
if ! stamp_ok self "$(hash_of setup.py)"; then
  say "pip: installing apeiria (editable)"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2> >(grep -v "is ignored: it is neither" >&2)
  stamp_set self "$(hash_of setup.py)"
fi

# 4. ROS 2 interfaces ----------------------------------------------------------------
if [ -x scripts/build_interfaces.sh ]; then
  VENV=$VENV scripts/build_interfaces.sh
fi
say "ready: $VENV"
