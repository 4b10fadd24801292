"""Runtime settings, read from the environment (prefix JINGXIN_) or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the two stores live and how the server runs.

    - `warehouse`: `duckdb:///path/file.duckdb` (default, under `home`), `postgresql://...`
      (schema `warehouse` by default, see `warehouse_schema`) or `spark:///folder`,
      `spark://master:7077/folder` (versions published by `jingxin publish`, for scale-out
      analytics; see `jingxin.core.spark`).
    - `database`: the platform database as a SQLAlchemy URL (SQLite file by default).
    """

    model_config = SettingsConfigDict(env_prefix="JINGXIN_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("var"), description="folder for the default store files")
    warehouse: str | None = None
    warehouse_schema: str = "warehouse"
    database_url: str | None = None
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

    # ---- connections to the two stores (see docs/deployment.md, "Connections and pools") ----
    # Project defaults sized so that 4 server processes stay under PostgreSQL's default
    # max_connections of 100: per process at most db_pool_size + db_pool_overflow (platform)
    # + warehouse_pool_size + job threads' queue connections + 1 listener.
    db_pool_size: int = Field(default=4, ge=1, description="platform-database connections kept per process")
    db_pool_overflow: int = Field(
        default=4,
        ge=0,
        description="extra platform-database connections per process under load, closed when returned",
    )
    warehouse_pool_size: int = Field(
        default=6, ge=1, description="most warehouse connections per process (PostgreSQL); more requests wait"
    )
    pool_timeout: float = Field(
        default=10.0, gt=0, description="seconds a request waits for a free connection before a 503 (繁忙)"
    )
    pool_idle: float = Field(
        default=300.0, gt=0, description="seconds after which an unused warehouse connection is closed"
    )
    warm_seconds: float = Field(
        default=60.0,
        ge=0,
        description="seconds `jingxin serve` spends at start warming the headline views' caches (0 = off)",
    )
    connect_timeout: int = Field(
        default=5, ge=1, description="seconds to wait for PostgreSQL to accept a connection"
    )
    retry_after: int = Field(
        default=5,
        ge=1,
        description="seconds a 503 (store unreachable or busy) tells the client to wait (Retry-After)",
    )

    # Working days and notifications (工作日历、消息通知).
    calendar_file: Path | None = Field(
        default=None, description="YAML of holiday years the chinesecalendar package does not cover yet"
    )
    public_url: str = Field(default="http://127.0.0.1:8000", description="base address put in e-mail links")
    smtp_host: str | None = Field(default=None, description="SMTP server; unset = no e-mail, inbox only")
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "jingxin@localhost"
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    smtp_timeout: float = 10.0
    email_max_attempts: int = Field(default=5, description="tries per e-mail before it is given up")
    # ---- limits on what a request or an uploaded file may cost (see docs/security.md) ----
    upload_max_bytes: int = Field(
        default=50 * 1024 * 1024,
        description="largest upload body (bytes) on the upload routes; refused (413) before reading",
    )
    request_max_bytes: int = Field(
        default=1024 * 1024,
        description="largest body (bytes) of every other state-changing request",
    )
    ingest_max_rows: int = Field(default=1_048_576, description="data rows per file (Excel's own row limit)")
    ingest_max_columns: int = Field(default=256, description="columns per sheet or CSV row")
    ingest_max_cells: int = Field(
        default=5_000_000, description="rows × columns of a sheet's used area, declared or real"
    )
    ingest_max_text_bytes: int = Field(
        default=128 * 1024 * 1024,
        description="text an .xlsx's cells spell out once its shared strings are filled in",
    )
    ingest_max_line_bytes: int = Field(
        default=1024 * 1024, description="longest CSV line (bytes); a longer one is not a table row"
    )
    ingest_max_sheets: int = Field(default=64, description="worksheets per workbook")
    ingest_max_expanded_bytes: int = Field(
        default=512 * 1024 * 1024, description="total uncompressed size of an .xlsx (a zip archive)"
    )
    ingest_max_zip_ratio: float = Field(
        default=100.0, description="uncompressed / compressed size of an .xlsx and of each of its entries"
    )
    ingest_max_rejected_share: float = Field(
        default=0.5,
        description="a file with more rejected rows than this share (and at least "
        "ingest_rejected_floor of them) is refused whole instead of stored as rejections",
    )
    ingest_rejected_floor: int = Field(
        default=1000,
        description="below this many rejected rows a file is never refused for its share, so a small "
        "file gets its row-by-row reasons",
    )

    # ---- operations: logs, metrics, single sign-on (see docs/deployment.md) ----
    log_format: Literal["json", "console"] = Field(
        default="json",
        description="server log lines: one JSON object per line (production) or readable text (development)",
    )
    metrics_token: str | None = Field(
        default=None, description="bearer token a Prometheus scraper sends to read /metrics"
    )
    metrics_allow: str | None = Field(
        default=None,
        description="comma-separated addresses or networks allowed to read /metrics without a token; "
        "with neither this nor metrics_token set, /metrics refuses everyone",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect provider (its /.well-known/openid-configuration is read); unset = "
        "local accounts only",
    )
    oidc_client_id: str | None = None
    secret_key: str | None = Field(
        default=None,
        description="signs the 10-minute single sign-on login cookie (state, nonce, PKCE verifier); "
        "required with oidc_issuer, the same in every server process; nothing else is signed",
    )
    oidc_client_secret: str | None = None
    oidc_label: str = Field(default="统一身份认证登录", description="text of the single sign-on button")
    oidc_username_claim: str = Field(default="preferred_username", description="claim that names the account")
    oidc_role_claim: str = Field(default="jingxin_role", description="claim whose value picks the role")
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict,
        description='JSON object: claim value -> platform role, e.g. {"jxt-admin": "admin"}; a value not '
        "in it (or a missing claim) refuses the login",
    )
    oidc_division_claim: str = Field(
        default="division_code", description="claim holding the six-digit division code of the user's scope"
    )
    oidc_department_claim: str = Field(
        default="department", description="claim holding the department (for department roles)"
    )

    duckdb_checkpoint: str = Field(
        default="256MB",
        pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|KiB|MiB|GiB)$",
        description="DuckDB warehouse: write-ahead log size that triggers a checkpoint "
        "(checkpoint_threshold). DuckDB's own 16MB makes every stored run of 100,000 enterprises "
        "pay one; larger logs cost fewer, longer checkpoints and a longer replay after a crash",
    )

    # ---- Spark: cluster, catalog and publish cycle (see docs/deployment.md) ----
    spark_master: str = Field(
        default="local[2]",
        description="Spark master when the warehouse URL names none: local[N], spark://host:7077, "
        "yarn, k8s://https://host:port (a spark://host:port/… URL's own host wins)",
    )
    spark_memory: str = Field(default="4g", description="driver memory (spark.driver.memory)")
    spark_executor_memory: str = Field(
        default="1g", description="memory per executor on a cluster (spark.executor.memory)"
    )
    spark_partitions: int = Field(
        default=4, description="spark.sql.shuffle.partitions (2 × cores is a fair start)"
    )
    spark_local_ip: str = Field(
        default="127.0.0.1",
        description="address the driver binds to and announces (SPARK_LOCAL_IP, spark.driver.host); "
        "on a multi-machine cluster the driver's address the workers can reach",
    )
    spark_app_name: str = Field(default="jingxin", description="application name shown by the master")
    spark_catalog: Path | None = Field(
        default=None,
        description="folder of Spark's built-in Hive metastore (Derby); unset = no persistent catalog",
    )
    spark_warehouse: str | None = Field(
        default=None, description="default target of `jingxin publish` (a spark://… URL)"
    )
    spark_keep_versions: int = Field(
        default=3, ge=1, description="published versions kept; older ones pruned once no reader uses them"
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
