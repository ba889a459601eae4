#!/usr/bin/env bash
# Installs what LayerCanvas needs into .venv. Usage: scripts/setup.sh [app|dev]
#   app: the app's requirements;  dev: also the test tools and Debian's chromium (browser tests).
# Re-running is cheap: pip runs only when a requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-app}
req=requirements.txt
[ "$mode" = dev ] && req=requirements-dev.txt

py=${PYTHON:-}
if [ -z "$py" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then py=$candidate; break; fi
  done
fi
[ -n "$py" ] || { echo "setup: Python 3.11 is needed (python3.11 or python3 on PATH)" >&2; exit 1; }
"$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' \
  || echo "setup: warning: $("$py" --version) found; LayerCanvas is tested on Python 3.11" >&2

[ -x .venv/bin/python ] || "$py" -m venv .venv
stamp=".venv/.installed-$mode-$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$req"
  touch "$stamp"
fi
# The app's own bytecode, made once: where PYTHONDONTWRITEBYTECODE is set (many containers), Python would otherwise
# compile every module of the app from source at each server start (a tenth of a second of the first page).
.venv/bin/python -m compileall -q -j 0 app.py builder components pages >/dev/null || true

if [ "$mode" = dev ] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing Debian's postgresql for the store's tests" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi

if [ "$mode" = dev ] && [ ! -x /usr/bin/chromium ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing Debian's chromium for the browser tests" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
