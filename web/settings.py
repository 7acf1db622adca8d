"""Dashboard settings, read from the environment (prefix ``CAMAUDIT_``).

Nothing here touches the disk at import time; :func:`resolve_secret_key` and
:meth:`Settings.resolved_database_url` do, when the app factory asks for them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from auditor.errors import ConfigError

# Values people paste from examples; a production server must never sign cookies with them.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changethis", "change-me", "changeme", "secret", "please-change", "dev", "test"}
)
MIN_SECRET_LEN = 32
SECRET_FILE = "secret_key"


def default_data_dir() -> Path:
    """Where the dashboard keeps its database and secret: system-wide for root."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/camaudit")
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "camaudit"


class Settings(BaseSettings):
    """Everything the dashboard needs to start; tests build their own instance."""

    model_config = SettingsConfigDict(env_prefix="CAMAUDIT_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None  # default: sqlite:///<data_dir>/camaudit.db
    secret_key: str | None = None  # default: generated once and kept in <data_dir>/secret_key
    max_ingest_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    session_max_age: int = Field(default=8 * 3600, gt=0)  # seconds
    metrics_token: str | None = None  # bearer token a Prometheus scraper may use
    page_size: int = Field(default=50, gt=0, le=500)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    # Upgrade the schema on start; off: refuse to start on an old schema (web.migrate).
    auto_migrate: bool = True
    # Failed logins allowed per (client address, username) in login_window_s seconds.
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: float = Field(default=60.0, gt=0)
    # Requests a probe token may make per minute (ingest, jobs); 429 past it.
    probe_rate_per_minute: int = Field(default=120, ge=1)
    # A probe not heard from for this long is "silent": an alert, /metrics, the overview.
    # A probe that reports its poll interval gets max(this, 3 x that interval)
    # (web.probe_health.silent_after), so a slow-polling probe needs no change here.
    probe_silent_after_s: float = Field(default=7200.0, gt=0)
    # How often the server itself checks for silent probes (0: only when pages are read).
    probe_sweep_interval_s: float = Field(default=60.0, ge=0)

    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to a SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'camaudit.db'}"

    def ensure_data_dir(self) -> Path:
        """Create ``data_dir`` (mode 0700) if needed and return it; raise ConfigError."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create data directory {self.data_dir}: {exc}") from exc
        return self.data_dir


def resolve_secret_key(settings: Settings) -> str:
    """Return the key that signs session cookies.

    An explicit ``CAMAUDIT_SECRET_KEY`` wins. In production it must be set and must not
    be a placeholder or short (raises :class:`ConfigError`). Elsewhere a random key is
    generated once and kept in ``<data_dir>/secret_key`` so sessions survive restarts.
    """
    key = settings.secret_key
    if settings.env == "production":
        if key is None or key.strip().lower() in PLACEHOLDER_SECRETS or len(key) < MIN_SECRET_LEN:
            raise ConfigError(
                "CAMAUDIT_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LEN} characters in production "
                '(e.g. python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        return key
    if key and key.strip().lower() not in PLACEHOLDER_SECRETS:
        return key
    path = settings.ensure_data_dir() / SECRET_FILE
    try:
        if path.exists():
            stored = path.read_text(encoding="utf-8").strip()
            if len(stored) >= MIN_SECRET_LEN:
                return stored
        new = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new + "\n")
        return new
    except OSError as exc:
        raise ConfigError(f"cannot read or write the secret key file {path}: {exc}") from exc
