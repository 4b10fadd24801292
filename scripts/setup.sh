#!/usr/bin/env bash
# Set up a fresh machine: Python environment from the lock file, front-end assets from npm,
# and Debian's chromium for the browser tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet "uv==0.13.8"
fi
uv sync --frozen --quiet

if [ -f package-lock.json ]; then
  npm ci --silent --no-audit --no-fund
  if [ -f scripts/vendor_assets.py ]; then .venv/bin/python scripts/vendor_assets.py; fi
fi

# Debian packages the tests use: chromium and CJK fonts for the browser tests, redis-server
# for the Redis job queue test (it starts its own server on a socket).
if { ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK" \
     || ! command -v redis-server >/dev/null 2>&1; } && [ "$(id -u)" = "0" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk redis-server >/dev/null
fi
