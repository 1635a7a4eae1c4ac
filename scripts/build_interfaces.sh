#!/usr/bin/env bash
# Build apeiria's ROS 2 interfaces (msg/ srv/ action/) into the venv from PyPI wheels,
# after the standard interface packages vendored in interfaces/ that have no wheel
# (vision_msgs, which apeiria's messages use, and nav2_msgs' NavigateToPose).
#
#   VENV=.venv scripts/build_interfaces.sh        (scripts/setup.sh runs this)
#
# Needs requirements/ros.txt installed in $VENV and Debian cmake + g++. Idempotent:
# skips the build when a stamp keyed by the hash of the interface sources (all
# packages) matches and the generated Python packages import. Any failure stops with
# one clear line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-${APEIRIA_VENV:-$ROOT/.venv}}
VENV=$(cd "$VENV" 2>/dev/null && pwd) || { echo "build_interfaces: error: venv '$VENV' does not exist (run scripts/setup.sh)" >&2; exit 1; }
PY=$VENV/bin/python
# One build folder per venv: a CMake cache remembers where it found ament/rosidl.
BUILD=$ROOT/build/interfaces/$(printf '%s' "$VENV" | sha256sum | cut -c1-8)
STAMP=$VENV/.stamps/interfaces
# Package source folders in build order (a package is built and installed into $VENV
# before the ones that find_package() it): name=folder.
PACKAGES=(vision_msgs=interfaces/vision_msgs nav2_msgs=interfaces/nav2_msgs apeiria=.)
# What must import for the build to count as done.
IMPORT_CHECK='from vision_msgs.msg import Detection3DArray; from nav2_msgs.action import NavigateToPose
from apeiria.msg import SceneMap, GroundingResult; from apeiria.srv import Ground; from apeiria.action import Ground as G
SceneMap(); Detection3DArray(); NavigateToPose.Goal()'

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

# Everything that goes into the build: the interpreter, this script, and each package's
# CMakeLists.txt, package.xml and interface files (named and in full).
sources() {
  "$PY" -c 'import sys; print(sys.version)'
  cat scripts/build_interfaces.sh
  local entry dir sub f
  for entry in "${PACKAGES[@]}"; do
    dir=${entry#*=}
    echo "$entry"
    cat "$dir/CMakeLists.txt" "$dir/package.xml"
    for sub in msg srv action; do
      if [ -d "$dir/$sub" ]; then
        while read -r f; do echo "$f"; cat "$f"; done < <(find "$dir/$sub" -maxdepth 1 -type f \( -name '*.msg' -o -name '*.srv' -o -name '*.action' \) | LC_ALL=C sort)
      fi
    done
  done
}
src_hash=$(sources | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$src_hash" ] && "$PY" -c "$IMPORT_CHECK" 2>/dev/null; then
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
# (an older layout configured apeiria directly in $BUILD: one folder per package now)
[ -f "$BUILD/CMakeCache.txt" ] && rm -rf "$BUILD"
for entry in "${PACKAGES[@]}"; do
  name=${entry%%=*} dir=${entry#*=}
  LOG=$BUILD/$name.log
  mkdir -p "$BUILD/$name"
  say "building $name ($dir) into $VENV (log: $LOG)"
  {
    cmake -S "$ROOT/$dir" -B "$BUILD/$name" -DCMAKE_INSTALL_PREFIX="$VENV" -DAPEIRIA_INSTALL_PYTHON=OFF \
          -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$BUILD/$name" -j "$(nproc)" &&
    cmake --install "$BUILD/$name"
  } >"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; fail "$name interface build failed (full log: $LOG)"; }
done

"$PY" -c "$IMPORT_CHECK" \
  || fail "interfaces built but they do not import in $PY (see the logs in $BUILD)"
mkdir -p "$(dirname "$STAMP")"
echo "$src_hash" > "$STAMP"
say "ok ($src_hash)"
