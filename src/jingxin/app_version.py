"""The installed platform's version (the package metadata), for the API, backups and logs."""

from __future__ import annotations


def platform_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jingxin")
    except PackageNotFoundError:
        return "0"
