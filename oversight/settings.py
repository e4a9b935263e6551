"""The one settings object. Every value has an embedded default; environment variables override.

Environment names are upper-case with the `OVERSIGHT_` prefix, e.g. `OVERSIGHT_DATABASE_URL`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
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
    # The extractive model's judge: "similarity" (the untrained option-to-evidence cosine) or "trained" (a logistic
    # head over quote-support features, trained once on the NYU training stories and cached under
    # data_dir/judge_head, oversight.models.judge_head; without the NYU data it falls back to "similarity"). The
    # default stays "similarity" until the head beats chance on held-out stories (bench/results/offline-judge.md:
    # 0.548 [0.435, 0.661] on debates, so not yet).
    extractive_judge: str = "similarity"
    # Model configuration file (TOML); absent means the built-in offline defaults.
    models_file: Path | None = None
    # Sign-in throttling: after `login_free_failures` failures a name waits, doubling up to the cap.
    login_free_failures: int = 3
    login_max_delay_s: float = 60.0
    # The same doubling wait per client address, across every name it tries, after this many failures.
    login_address_free_failures: int = 10
    # Unknown or withdrawn participant/enrolment links one client address may try a minute; past it, its links that
    # do not work are answered "wait a minute". Links that work are never counted and always work.
    link_misses_per_minute: int = 20
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDRs, e.g.
    # "127.0.0.1,10.0.0.0/8"); the client is the right-most address in it that is not one of them. Empty: the
    # header is ignored and the client is the connecting peer.
    trusted_proxies: str = ""
    # Staff stay signed in across browser refreshes for this long (a server-side session behind an
    # HttpOnly cookie); 0 keeps the sign-in to the browser tab.
    staff_session_hours: float = 12.0
    # Offer "Sign in with your institution" (Streamlit's st.login, OpenID Connect; configured in
    # .streamlit/secrets.toml [auth]) beside the password form. Staff are matched by e-mail = user name.
    staff_oidc: bool = False
    # Each app process runs one job worker thread (batch runs, AI judging, training). Set false where jobs run in
    # their own `python -m oversight worker` processes (several app replicas, GPU machines).
    embedded_worker: bool = True
    # CPU threads torch may use in an app process (0: torch's default, every core). The server runs many small
    # model calls at once (the extractive encoder, tiny CPU models); on a 2-core machine one thread each was 2-3x
    # faster per call than two threads contending (bench/load.py). Worker processes keep torch's default.
    app_torch_threads: int = 1
    # Model turns (speeches, assistant replies) one app process holds at once, waiting or being written. Past it a
    # waiting participant sees "the model is busy" and their turn starts at a later poll, once there is room: a
    # burst queues no unbounded work behind the people already waiting, and nothing is lost (the turn is owed by
    # the transcript's state in the database, not by the queue).
    model_queue_max: int = 64
    # Import bounds (a file beyond one is refused with a message naming it).
    import_max_bytes: int = 300 * 1024 * 1024  # total uncompressed size of an upload or folder
    import_max_files: int = 20_000  # entries in a zip or files in a folder
    import_max_zip_ratio: float = 200.0  # uncompressed / compressed size of a zip entry
    import_max_line_chars: int = 2_000_000  # one CSV / JSON line (a whole JSON file for folder formats)
    import_max_json_depth: int = 40  # nesting of objects and lists
    import_max_options: int = 10  # answer options per item (the participant page labels A..J)
    # Imports write in transactions of this many items (with their transcripts), so participants' writes
    # never wait long behind an import.
    import_batch_items: int = 200
    # A person dealt a place in a study's design who has not finished and has not been seen for this long has left:
    # the next arrival takes their place (oversight.sandwiching.dealing), so drop-outs leave no hole in the design.
    design_slot_timeout_minutes: float = 60.0
    # Prolific API mode (oversight/study/prolific_api.py): the researcher's API token, a secret read from the
    # environment (OVERSIGHT_PROLIFIC_API_TOKEN) only, never stored in the database nor shown on a page. Unset: the
    # Payments section offers the files to upload by hand.
    prolific_api_token: SecretStr | None = None
    prolific_api_url: str = "https://api.prolific.com"

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
