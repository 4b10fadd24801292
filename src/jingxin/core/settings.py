"""Runtime settings, read from the environment (prefix JINGXIN_) or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the two stores live and how the server runs.

    - `warehouse`: `duckdb:///path/file.duckdb` (default, under `home`), `postgresql://...`
      (schema `warehouse` by default, see `warehouse_schema`) or `spark:///path/to/parquet`
      (a Spark catalog of Parquet folders, one per table, for scale-out analytics).
    - `database`: the platform database as a SQLAlchemy URL (SQLite file by default).
    """

    model_config = SettingsConfigDict(env_prefix="JINGXIN_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("var"), description="folder for the default store files")
    warehouse: str | None = None
    warehouse_schema: str = "warehouse"
    database_url: str | None = None
    secret_key: str = "change-me-in-production"
    host: str = "127.0.0.1"
    port: int = 8000
    secure_cookies: bool = Field(
        default=False,
        description="mark the session cookie Secure on every answer (set it behind a TLS proxy)",
    )
    trusted_proxies: str = Field(
        default="127.0.0.1",
        description="comma-separated addresses or networks of the reverse proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto `serve --proxy-headers` believes",
    )
    log_level: str = Field(
        default="info",
        description="server log level; 'warning' leaves out the access log (a proxy in front logs)",
    )

    @property
    def warehouse_url(self) -> str:
        return self.warehouse or f"duckdb:///{(self.home / 'warehouse.duckdb').resolve()}"

    @property
    def platform_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'platform.sqlite').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
