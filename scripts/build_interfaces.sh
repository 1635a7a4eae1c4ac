#!/usr/bin/env bash
# Build apeiria's ROS 2 interfaces (msg/ srv/ action/) into the venv from PyPI wheels.
#
#   VENV=.venv scripts/build_interfaces.sh        (scripts/setup.sh runs this)
#
# Needs requirements/ros.txt installed in $VENV and Debian cmake + g++. Idempotent:
# skips the build when a stamp keyed by the hash of the interface sources matches and
# the generated Python package imports. Any failure stops with one clear line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-${APEIRIA_VENV:-$ROOT/.venv}}
VENV=$(cd "$VENV" 2>/dev/null && pwd) || { echo "build_interfaces: error: venv '$VENV' does not exist (run scripts/setup.sh)" >&2; exit 1; }
PY=$VENV/bin/python
# One build folder per venv: a CMake cache remembers where it found ament/rosidl.
BUILD=$ROOT/build/interfaces/$(printf '%s' "$VENV" | sha256sum | cut -c1-8)
STAMP=$VENV/.stamps/interfaces

say() { printf '\033[1m[interfaces]\033[0m %s\n' "$*"; }
fail() { printf 'build_interfaces: error: %s\n' "$*" >&2; exit 1; }

[ -x "$PY" ] || fail "$PY not found (run scripts/setup.sh)"
command -v cmake >/dev/null || fail "cmake not found: apt-get install cmake g++ (requirements/apt.txt)"
command -v g++ >/dev/null || fail "g++ not found: apt-get install g++ (requirements/apt.txt)"
[ -f "$VENV/share/rosidl_default_generators/cmake/rosidl_default_generatorsConfig.cmake" ] ||
  fail "rosidl generators missing in $VENV: $VENV/bin/pip install -c requirements/constraints.txt -r requirements/ros.txt"

# ros-rosidl-parser depends on the old 'lark-parser' dist, which writes the same 'lark'
# module as the pinned 'lark' in base.txt: whichever pip installed last wins. Put the
# pinned one back (rosidl_parser works with lark 1.x).
lark_pin=$(grep -E '^lark==' requirements/base.txt | head -1 | cut -d= -f3 || true)
if [ -n "$lark_pin" ]; then
  have=$("$PY" -c 'import lark; print(lark.__version__)' 2>/dev/null || echo none)
  if [ "$have" != "$lark_pin" ]; then
    say "restoring lark==$lark_pin (lark-parser $have overwrote it)"
    "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "lark==$lark_pin" \
      2> >(grep -v "is ignored: it is neither" >&2) || fail "could not reinstall lark==$lark_pin"
  fi
fi

src_hash=$( { "$PY" -c 'import sys; print(sys.version)'; cat CMakeLists.txt package.xml scripts/build_interfaces.sh;
              find msg srv action -type f \( -name '*.msg' -o -name '*.srv' -o -name '*.action' \) | LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done; } | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$src_hash" ] &&
   "$PY" -c 'from apeiria.msg import SceneMap, GroundingResult; from apeiria.srv import Ground; from apeiria.action import Ground as G' 2>/dev/null; then
  say "up to date ($src_hash)"
  exit 0
fi

# The wheels' export_*__rosidl_generator_pyExport.cmake hard-code the wheel builder's
# Python and numpy include directories; point them at this interpreter's (idempotent).
"$PY" - "$VENV" <<'PYEOF' || fail "could not patch the rosidl_generator_py cmake exports"
import glob, re, sys, sysconfig
import numpy
venv = sys.argv[1]
inc, npinc = sysconfig.get_paths()["include"], numpy.get_include()
n = 0
for path in glob.glob(f"{venv}/share/*/cmake/export_*__rosidl_generator_pyExport.cmake"):
    text = open(path).read()
    new = re.sub(r"/opt/python/[^;\"]*?/site-packages/numpy/(_core|core)/include", npinc, text)
    new = re.sub(r"/opt/python/cp3\d+-cp3\d+t?/include/python3\.\d+t?", inc, new)
    if new != text:
        open(path, "w").write(new)
        n += 1
print(f"[interfaces] patched include paths in {n} cmake export file(s)")
PYEOF

export AMENT_PREFIX_PATH=$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}
export CMAKE_PREFIX_PATH=$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
export PATH=$VENV/bin:$PATH
LOG=$BUILD.log
mkdir -p "$BUILD"
say "building msg/srv/action into $VENV (log: $LOG)"
{
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_INSTALL_PREFIX="$VENV" -DAPEIRIA_INSTALL_PYTHON=OFF \
        -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release &&
  cmake --build "$BUILD" -j "$(nproc)" &&
  cmake --install "$BUILD"
} >"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; fail "interface build failed (full log: $LOG)"; }

"$PY" -c 'from apeiria.msg import SceneMap, GroundingResult; from apeiria.srv import Ground; from apeiria.action import Ground as G; SceneMap()' \
  || fail "interfaces built but 'from apeiria.msg import SceneMap' fails in $PY (see $LOG)"
mkdir -p "$(dirname "$STAMP")"
echo "$src_hash" > "$STAMP"
say "ok ($src_hash)"
