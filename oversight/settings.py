"""The one settings object. Every value has an embedded default; environment variables override.

Environment names are upper-case with the `OVERSIGHT_` prefix, e.g. `OVERSIGHT_DATABASE_URL`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_", extra="ignore")

    # Where the embedded SQLite database and caches live.
    data_dir: Path = REPO_ROOT / "data"
    # Empty means "SQLite file under data_dir"; any SQLAlchemy URL works (postgresql+psycopg://...).
    database_url: str = ""
    # The licensed data sets beside the checkout; tests that need them skip when absent.
    datasets_dir: Path = REPO_ROOT.parent / "shared" / "datasets"
    # Base URL put in front of participant links (what participants open in their browser).
    public_url: str = "http://localhost:8501"
    # Model configuration file (TOML); absent means the built-in offline defaults.
    models_file: Path | None = None
    # Sign-in throttling: after `login_free_failures` failures a name waits, doubling up to the cap.
    login_free_failures: int = 3
    login_max_delay_s: float = 60.0

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'oversight.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
