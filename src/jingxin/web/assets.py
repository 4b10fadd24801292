"""Browser libraries served by the app itself (前端资源): ECharts, HTMX and Swagger UI from npm.

Government intranets have no internet, so nothing is loaded from a CDN. The libraries are
pinned in `package.json` / `package-lock.json`; after `npm ci`, `scripts/vendor_assets.py`
copies the few distribution files the pages use from `node_modules/` into
`jingxin/web/static/vendor/` (not committed), with their licences. The server does the same
copy at start when the files are missing and `node_modules/` is present, so a fresh checkout
needs only `npm ci` before `jingxin serve`.

Why copy rather than serve `node_modules/` directly: the app then serves one folder of its
own, an installed package carries its assets, and the browser never sees the rest of
`node_modules/`.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
NODE_MODULES = Path(__file__).resolve().parents[3] / "node_modules"

# vendor file name -> path inside node_modules
VENDOR_FILES: dict[str, str] = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "htmx.LICENSE.txt": "htmx.org/LICENSE",
    "echarts.min.js": "echarts/dist/echarts.min.js",
    "echarts.LICENSE.txt": "echarts/LICENSE",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "swagger-ui.LICENSE.txt": "swagger-ui-dist/LICENSE",
}


def missing_vendor_files(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    return [name for name in VENDOR_FILES if not (vendor_dir / name).is_file()]


def vendor(node_modules: Path = NODE_MODULES, vendor_dir: Path = VENDOR_DIR) -> list[Path]:
    """Copy the vendored files from `node_modules`; returns the files written.

    Raises FileNotFoundError naming what is missing, with the command that fixes it.
    """
    absent = [rel for rel in VENDOR_FILES.values() if not (node_modules / rel).is_file()]
    if absent:
        raise FileNotFoundError(
            f"node_modules 中缺少前端依赖：{', '.join(absent)}。请先在项目根目录运行 `npm ci`。"
        )
    vendor_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rel in VENDOR_FILES.items():
        target = vendor_dir / name
        shutil.copyfile(node_modules / rel, target)
        written.append(target)
    return written


def ensure_vendor() -> bool:
    """Make sure the vendored files exist (copying them if `node_modules` has them).

    Returns False, with a warning in the log, when they cannot be provided: pages still work,
    but charts and HTMX interactions do not until `npm ci` has been run.
    """
    if not missing_vendor_files():
        return True
    try:
        vendor()
        return True
    except (FileNotFoundError, OSError) as exc:
        log.warning("前端资源不完整（%s）：请运行 `npm ci && python scripts/vendor_assets.py`", exc)
        return False


def asset_version() -> str:
    """A short fingerprint of the static files, appended to their URLs so that browsers fetch
    new versions after an upgrade and may cache them otherwise."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            stat = path.stat()
            digest.update(f"{path.relative_to(STATIC_DIR)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:10]
