#!/usr/bin/env python3
"""Copy the browser libraries (ECharts, HTMX) from node_modules into the app's static folder.

Run once after `npm ci` (the server also does it at start when the files are missing):

    npm ci
    .venv/bin/python scripts/vendor_assets.py          # copy
    .venv/bin/python scripts/vendor_assets.py --check  # exit 1 if a vendored file is missing
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the files are present")
    args = parser.parse_args()
    from jingxin.web.assets import VENDOR_DIR, missing_vendor_files, vendor

    if args.check:
        missing = missing_vendor_files()
        for name in missing:
            print(f"缺少 {VENDOR_DIR / name}", file=sys.stderr)
        return 1 if missing else 0
    try:
        for path in vendor():
            print(f"已复制 {path}")
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
