"""Where things live and which PostgreSQL to use: the one place dbt, Dagster, GX and the CLI ask."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from orchestration.core.errors import FunnelError

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
DEFAULT_PORT = 55432
DEFAULT_DATABASE = "funnel"
EMBEDDED_USER = "funnel"


def funnel_home() -> Path:
    """Local state (embedded pgdata, Dagster instance, landing files); `.local/` in the repo by default."""
    return Path(os.environ.get("FUNNEL_HOME", REPO_ROOT / ".local")).expanduser().resolve()


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    embedded: bool

    def url(self, dbname: str | None = None, *, masked: bool = False) -> str:
        """libpq URL; masked=True shows `***` for the password (for output that ends up in logs)."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + ("***" if masked else quote(self.password, safe=""))
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(dbname or self.dbname, safe='')}"

    def with_database(self, dbname: str) -> Connection:
        return Connection(self.host, self.port, self.user, self.password, dbname, self.embedded)

    def env(self) -> dict[str, str]:
        """Variables the dbt profile (profiles.example.yml) reads."""
        return {
            "FUNNEL_DB_HOST": self.host,
            "FUNNEL_DB_PORT": str(self.port),
            "FUNNEL_DB_USER": self.user,
            "FUNNEL_DB_PASSWORD": self.password,
            "FUNNEL_DB_NAME": self.dbname,
        }


def _port(value: str, name: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise FunnelError(f"{name}={value!r} is not a TCP port", "use a number between 1 and 65535")
    return int(value)


def embedded_password() -> str:
    """The embedded server's password: generated once, kept in FUNNEL_HOME (never in the repo)."""
    path = funnel_home() / "pgpassword"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def connection() -> Connection:
    """FUNNEL_DATABASE_URL, else the standard PG* variables, else the embedded server."""
    url = os.environ.get("FUNNEL_DATABASE_URL", "").strip()
    dbname = os.environ.get("FUNNEL_DB_NAME")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
            raise FunnelError(
                f"FUNNEL_DATABASE_URL={parts.scheme}://{parts.hostname or ''}... is not a postgresql:// URL",
                "use postgresql://user:password@host:5432/dbname",
            )
        return Connection(
            host=parts.hostname,
            port=parts.port or 5432,
            user=unquote(parts.username or os.environ.get("USER", "postgres")),
            password=unquote(parts.password or ""),
            dbname=dbname or unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE,
            embedded=False,
        )
    if os.environ.get("PGHOST"):
        return Connection(
            host=os.environ["PGHOST"],
            port=_port(os.environ.get("PGPORT", "5432"), "PGPORT"),
            user=os.environ.get("PGUSER", os.environ.get("USER", "postgres")),
            password=os.environ.get("PGPASSWORD", ""),
            dbname=dbname or os.environ.get("PGDATABASE", DEFAULT_DATABASE),
            embedded=False,
        )
    return Connection(
        host="127.0.0.1",
        port=_port(os.environ.get("FUNNEL_PG_PORT", str(DEFAULT_PORT)), "FUNNEL_PG_PORT"),
        user=EMBEDDED_USER,
        password=embedded_password(),
        dbname=dbname or DEFAULT_DATABASE,
        embedded=True,
    )
