"""Settings: one typed object built from `snoopipe.toml`, then environment variables.

Every backend is chosen by a URL (`file://`, `s3://`, `duckdb://`, `sqlite://`,
`postgresql://`, `redshift://`), so moving from a laptop to production is a settings
change, never a code change. Environment variables win over the file:
`SNOOPIPE_LAKE_URL`, `SNOOPIPE_WAREHOUSE_URL`, `SNOOPIPE_STATE_URL`,
`SNOOPIPE_TRANSFORM_ENGINE`, and nested ones such as `SNOOPIPE_REDDIT__CLIENT_ID`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from snoopipe.engines import TRANSFORM_ENGINE_NAMES, VALIDATION_ENGINE_NAMES
from snoopipe.redact import mask_url, remember, remember_url  # noqa: F401 - re-exported

CONFIG_FILE_NAME = "snoopipe.toml"

# Reddit's rules for subreddit names (from where they were valid): 2-21 letters, digits or
# underscores, not starting with `_` (two-letter names are legacy: today's minimum is 3);
# `reddit.com`, the default subreddit of 2005-2008; and profile subreddits `u_<username>`,
# usernames being 3-20 letters, digits, `_` or `-`. Also what keeps names safe in paths,
# SQL and Glue: no `/`, no quote, no whitespace, never `.` or `..` alone.
SUBREDDIT_NAME = r"[A-Za-z0-9][A-Za-z0-9_]{1,20}|(?i:reddit\.com)|u_[A-Za-z0-9_-]{3,20}"
SUBREDDIT_RE = re.compile(SUBREDDIT_NAME)


def validate_subreddit(name: str) -> str:
    """The canonical form of a subreddit name, or ValueError for an invalid one.

    Reddit compares names case-insensitively, so the canonical form, which identifies a
    subreddit in filters, watermarks, task ids and lake keys, is the lower-case name
    without an `r/` prefix (`r/Python` -> `python`). The tables keep the name as Reddit
    spells it in the data. Matched in full (`re.fullmatch`): no trailing newline.
    """
    cleaned = name.strip()
    if cleaned.lower().startswith("r/"):
        cleaned = cleaned[2:]
    if not SUBREDDIT_RE.fullmatch(cleaned):
        raise ValueError(
            f"invalid subreddit name {name!r}: use 2-21 letters, digits or underscores, "
            f"reddit.com, or u_<username> (3-20 letters, digits, _ or -)"
        )
    return cleaned.lower()


class RedditSettings(BaseModel):
    """Reddit API access. With no client_id anywhere, snoopipe uses its built-in simulator."""

    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    # PRAW's praw.ini site to read credentials from when client_id is not set here.
    praw_site: str | None = None
    user_agent: str = "python:snoopipe:v0.1.0 (data pipeline; https://github.com/snoopipe)"
    oauth_url: str = "https://oauth.reddit.com"
    reddit_url: str = "https://www.reddit.com"
    timeout_seconds: float = 16.0
    max_retries: int = 5
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    # Redis URL where every worker of this OAuth client shares one rate budget; filled
    # from the top-level `redis_url` when unset. None: one budget per process.
    rate_budget_url: str | None = None


class ExtractSettings(BaseModel):
    """What extraction fetches and how much it may spend per run."""

    listings: list[Literal["new", "hot", "top", "rising"]] = ["new"]
    top_time_filter: Literal["hour", "day", "week", "month", "year", "all"] = "day"
    # Posts created this long before the watermark are fetched again: listings are
    # not strictly ordered by id or time (edits, approvals, clock skew).
    overlap_minutes: int = 60
    # How far back the first run of a subreddit goes (the listing cap limits it anyway).
    initial_lookback_hours: int = 24
    # Posts younger than this are refreshed through /api/info on every run.
    refresh_window_hours: int = 72
    fetch_comments: bool = True
    # Upper bound on API requests per subreddit and run (listings, trees, more, info).
    max_requests_per_run: int = 2000
    morechildren_batch_size: int = Field(default=100, ge=1, le=100)
    # Upper bound on /api/morechildren calls for one post in one run.
    max_more_requests_per_post: int = 20
    # A post whose comment tree failed (404, 413, a persistent 500) is tried again by
    # later runs, this many runs in a row at most; `snoopipe status` lists it meanwhile.
    max_tree_attempts: int = Field(default=3, ge=1)
    # Every this many hours (0: never), /new is read back deep_relist_hours instead of to
    # the watermark minus the overlap, up to the ~1000-item cap: it finds posts approved
    # (or un-hidden) later than the overlap window.
    deep_relist_every_hours: float = Field(default=24, ge=0)
    deep_relist_hours: float = Field(default=24, gt=0)


class RunnerSettings(BaseModel):
    """The local runner's worker pool and retry policy."""

    max_workers: int = 4
    task_retries: int = 2
    retry_backoff_seconds: float = 2.0


class DumpAccessSettings(BaseModel):
    """Which dump files and URLs a backfill may read (snoopipe.sources.dumps.access).

    None means: anything for `snoopipe backfill` (run by the user, with the user's own
    access), and for the Airflow backfill DAG (whose parameters come from whoever may
    trigger it) only files under `<data_dir>/dumps` and no URL at all.
    """

    # Folders (relative to the config file) that local dump files must be in.
    allowed_roots: list[str] | None = None
    # URL schemes and hosts dump URLs may use; a host ".example.com" allows subdomains.
    allowed_url_schemes: list[str] = ["https", "http"]
    allowed_url_hosts: list[str] | None = None


class SimulatorSettings(BaseModel):
    """The built-in Reddit API simulator, used when no credentials are configured."""

    seed: int = 7
    corpus_dir: str | None = None
    # Requests allowed per 600 s window, like Reddit's per-client budget.
    ratelimit_budget: int = 6000
    subreddits: list[str] = ["python", "dataengineering", "datascience"]
    # New posts per hour and subreddit in the generated corpus (0 < rate <= 3600).
    posts_per_hour: float = Field(default=12, gt=0, le=3600)
    # Shift the simulator's clock (demos and tests of incremental runs).
    time_offset_seconds: float = 0.0
    # Pin the simulator's clock at this epoch time (plus time_offset_seconds), so that
    # separate runs see exactly the same Reddit (reproducible tests). None: the wall clock.
    fixed_now: float | None = None
    # Fault injection, as FaultPlan fields, e.g. {"error_5xx_rate": 0.1}.
    faults: dict[str, Any] = {}
    # Subreddits the simulator answers as Reddit does one it cannot serve, by name:
    # "private" or "quarantined" (403), "banned" (404), "unknown" (302 to search).
    subreddit_answers: dict[str, Literal["private", "quarantined", "banned", "unknown"]] = {}


class AlertSettings(BaseModel):
    """Where `snoopipe run` and `snoopipe backfill` send alerts: a failed run, a failed
    blocking check, a subreddit whose last successful extract is older than max_age_hours.
    Nothing is sent when neither a webhook nor e-mail recipients are set."""

    # Slack-compatible incoming webhook (POST {"text": ...}); the URL is a secret.
    webhook_url: SecretStr | None = None
    # E-mail over SMTP: recipients, sender, server (STARTTLS when starttls is true).
    email_to: list[str] = []
    email_from: str = "snoopipe@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    # Alert when a configured subreddit's last successful extract is older than this
    # (hours). None: no freshness alerts.
    max_age_hours: float | None = None
    timeout_seconds: float = 10.0


class AthenaSettings(BaseModel):
    """Validation on Athena (`validation_engine = "athena"`), over Glue catalog tables.

    The Glue database is created if missing; its tables and partitions are kept in step
    with the processed zone by snoopipe (see `snoopipe.lake.glue_catalog`).
    """

    # Glue database holding the processed tables (posts, comments, post_metrics, quarantine).
    database: str = "snoopipe"
    # Athena data catalog (AwsDataCatalog is the account's Glue Data Catalog).
    catalog: str = "AwsDataCatalog"
    workgroup: str = "primary"
    # Where Athena writes query results, e.g. s3://my-bucket/athena-results/. None: the
    # workgroup's own result location (the workgroup must have one).
    output_location: str | None = None
    # None: the standard AWS settings (AWS_REGION, profile).
    region: str | None = None
    poll_seconds: float = 0.5
    timeout_seconds: float = 600.0


class RedshiftSettings(BaseModel):
    """The Redshift warehouse (`warehouse_url = "redshift://..."`)."""

    # IAM role ARN that Redshift assumes to read the lake for COPY ... FORMAT AS PARQUET.
    iam_role: str | None = None


class SparkSettings(BaseModel):
    """The Spark transform engine (`transform_engine = "spark"`), in local mode by default."""

    # Spark master URL: local[*] uses every core of this machine; spark://host:7077,
    # yarn, k8s://... for a cluster (the executors need snoopipe and its dependencies).
    master: str = "local[*]"
    # JVM heap of the driver (in local mode it does all the work), e.g. "8g". None: half
    # of this machine's memory (or its container limit), at least 1g, at most 64g.
    driver_memory: str | None = None
    # spark.sql.shuffle.partitions; None: 2 x cores (Spark's 200 only slows small runs).
    shuffle_partitions: int | None = None
    # Spark's web UI (port 4040 and up) while a transform runs.
    ui: bool = False
    log_level: str = "WARN"
    app_name: str = "snoopipe-transform"
    # Any other Spark settings, e.g. {"spark.local.dir" = "/mnt/scratch"}.
    conf: dict[str, str] = {}


class GlueSettings(BaseModel):
    """The transform as an AWS Glue 5 job (`transform_engine = "glue"`, `snoopipe glue deploy`)."""

    job_name: str = "snoopipe-transform"
    # IAM role the job runs as (needed by `snoopipe glue deploy`): read/write on the lake.
    role: str | None = None
    # Where `snoopipe glue deploy` uploads the job script and snoopipe's wheel:
    # s3://<script_bucket>/<script_prefix>/. None: the lake's bucket, <lake prefix>/glue.
    script_bucket: str | None = None
    script_prefix: str | None = None
    glue_version: str = "5.0"
    worker_type: str = "G.1X"
    number_of_workers: int = Field(default=2, ge=2)
    # Minutes before Glue stops a run (Glue's own default is 2880).
    timeout_minutes: int = 120
    # More pip requirements for the job, next to the wheel (--additional-python-modules).
    additional_python_modules: list[str] = []
    # More job arguments (DefaultArguments), e.g. {"--enable-metrics" = "true"}.
    default_arguments: dict[str, str] = {}
    # None: the standard AWS settings (AWS_REGION, profile).
    region: str | None = None
    poll_seconds: float = 15.0
    # Seconds `snoopipe transform --engine glue` waits for a run; None: the job's timeout.
    wait_timeout_seconds: float | None = None


class ProcessedSettings(BaseModel):
    """How the processed zone's month partitions are cut into Parquet files."""

    # A partition file is closed after the row group that brings it to this size
    # (compressed): files of 512 MB to 512 MB + a row group; a smaller partition is one file.
    target_file_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    # Rows per Parquet row group: the unit min/max statistics skip by subreddit.
    row_group_rows: int = Field(default=122_880, ge=1)


class Settings(BaseSettings):
    """All of snoopipe's settings. See `snoopipe init` for a commented file."""

    model_config = SettingsConfigDict(
        env_prefix="SNOOPIPE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    subreddits: list[str] = ["python", "dataengineering", "datascience"]
    # Base folder for the embedded defaults below; relative to the config file.
    data_dir: str = "snoopipe-data"
    lake_url: str | None = None
    warehouse_url: str | None = None
    state_url: str | None = None
    transform_engine: Literal[TRANSFORM_ENGINE_NAMES] = "duckdb"  # snoopipe.engines
    # Where the data-quality checks run: DuckDB (reads the lake itself) or Athena.
    validation_engine: Literal[VALIDATION_ENGINE_NAMES] = "duckdb"
    # Use the simulator even when credentials are configured (demos, tests).
    use_simulator: bool = False
    # Redis shared by distributed workers (SNOOPIPE_REDIS_URL): the Reddit rate budget
    # of each OAuth client lives there. None: each process keeps its own budget.
    redis_url: str | None = None

    reddit: RedditSettings = RedditSettings()
    extract: ExtractSettings = ExtractSettings()
    runner: RunnerSettings = RunnerSettings()
    alerts: AlertSettings = AlertSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    athena: AthenaSettings = AthenaSettings()
    redshift: RedshiftSettings = RedshiftSettings()
    spark: SparkSettings = SparkSettings()
    glue: GlueSettings = GlueSettings()
    dump_access: DumpAccessSettings = DumpAccessSettings()
    processed: ProcessedSettings = ProcessedSettings()

    # Where the config file was, to resolve relative paths; set by load_settings.
    base_dir: str = "."

    @field_validator("subreddits")
    @classmethod
    def _valid_subreddits(cls, value: list[str]) -> list[str]:
        # Canonical (lower-case) and once each: `Python` and `python` are one subreddit.
        return list(dict.fromkeys(validate_subreddit(v) for v in value))

    @model_validator(mode="after")
    def _share_rate_budget(self) -> Settings:
        # The Reddit client reads where its rate budget is shared from its own settings.
        if self.redis_url and not self.reddit.rate_budget_url:
            self.reddit = self.reddit.model_copy(update={"rate_budget_url": self.redis_url})
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = settings_cls.model_config.get("toml_file")
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    # -- resolved locations -------------------------------------------------------

    def _data_path(self) -> Path:
        path = Path(self.data_dir).expanduser()
        if not path.is_absolute():
            path = Path(self.base_dir) / path
        return path.resolve()

    @property
    def resolved_lake_url(self) -> str:
        return self.lake_url or f"file://{self._data_path() / 'lake'}"

    @property
    def resolved_warehouse_url(self) -> str:
        return self.warehouse_url or f"duckdb:///{self._data_path() / 'warehouse.duckdb'}"

    @property
    def resolved_state_url(self) -> str:
        return self.state_url or f"sqlite:///{self._data_path() / 'state.db'}"

    def resolve_local_path(self, path: str) -> Path:
        """A filesystem path from a URL's path part, relative to the config file's folder."""
        candidate = Path(path).expanduser()
        if not candidate.is_absolute():
            candidate = Path(self.base_dir) / candidate
        return candidate.resolve()

    @property
    def has_reddit_credentials(self) -> bool:
        return bool(self.reddit.client_id or self.reddit.praw_site)


def load_settings(config_file: str | Path | None = None, **overrides: object) -> Settings:
    """Build Settings from a TOML file (default: ./snoopipe.toml if present) and the environment.

    Raises FileNotFoundError when an explicitly named file does not exist.
    """
    path: Path | None
    if config_file is not None:
        path = Path(config_file).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
    else:
        default = Path.cwd() / CONFIG_FILE_NAME
        path = default.resolve() if default.is_file() else None

    base_dir = str(path.parent if path else Path.cwd())

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(
            **{**Settings.model_config, "toml_file": str(path) if path else None}
        )

    values: dict[str, Any] = {"base_dir": base_dir, **overrides}
    settings = _FileSettings(**values)
    _remember_secrets(settings)
    if path:
        _warn_secrets_in_file(path)
    return settings


_warned: set[Path] = set()


def secrets_in_config(data: dict[str, Any], prefix: str = "") -> list[str]:
    """The keys of a parsed snoopipe.toml that hold a secret: a secret-looking key
    (`client_secret`, `password`, ...) or a URL with a password or a secret parameter."""
    from snoopipe.redact import is_secret_name

    found = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found += secrets_in_config(value, f"{name}.")
        elif isinstance(value, str) and value and (
                is_secret_name(key) or mask_url(value) != value):
            found.append(name)
    return found


def _warn_secrets_in_file(path: Path) -> None:
    """Log a warning (once per file and process) when snoopipe.toml holds secrets."""
    import logging
    import tomllib

    if path in _warned:
        return
    _warned.add(path)
    try:
        found = secrets_in_config(tomllib.loads(path.read_text()))
        mode = path.stat().st_mode & 0o777
    except (OSError, ValueError):
        return
    if found:
        shared = (f"; it is readable by other users (mode {mode:04o}): chmod 600 {path}"
                  if mode & 0o077 else "")
        logging.getLogger("snoopipe.settings").warning(
            "%s holds secrets (%s)%s. Prefer environment variables (e.g. "
            "SNOOPIPE_REDDIT__CLIENT_SECRET, SNOOPIPE_WAREHOUSE_URL) and keep the file "
            "out of version control.", path, ", ".join(found), shared)


def _remember_secrets(settings: Settings) -> None:
    """Tell the redactor the secrets these settings hold: they are masked wherever they
    appear in output, logs and stored errors (snoopipe.redact)."""
    for url in (settings.lake_url, settings.warehouse_url, settings.state_url,
                settings.redis_url, settings.reddit.rate_budget_url):
        remember_url(url)
    for secret in (settings.reddit.client_secret, settings.reddit.password):
        remember(secret.get_secret_value() if secret else None)
