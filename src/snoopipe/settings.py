"""Settings: one typed object built from `snoopipe.toml`, then environment variables.

Every backend is chosen by a URL (`file://`, `duckdb://`, `sqlite://`, later `s3://`,
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

CONFIG_FILE_NAME = "snoopipe.toml"

# Reddit's own rule for subreddit names; also what keeps names safe in paths and SQL.
SUBREDDIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")


def validate_subreddit(name: str) -> str:
    """Return the name without an `r/` prefix, or raise ValueError for an invalid one."""
    cleaned = name.strip()
    if cleaned.lower().startswith("r/"):
        cleaned = cleaned[2:]
    if not SUBREDDIT_RE.match(cleaned):
        raise ValueError(
            f"invalid subreddit name {name!r}: use 2-21 letters, digits or underscores"
        )
    return cleaned


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


class RunnerSettings(BaseModel):
    """The local runner's worker pool and retry policy."""

    max_workers: int = 4
    task_retries: int = 2
    retry_backoff_seconds: float = 2.0


class SimulatorSettings(BaseModel):
    """The built-in Reddit API simulator, used when no credentials are configured."""

    seed: int = 7
    corpus_dir: str | None = None
    # Requests allowed per 600 s window, like Reddit's per-client budget.
    ratelimit_budget: int = 6000
    subreddits: list[str] = ["python", "dataengineering", "datascience"]
    # Shift the simulator's clock (demos and tests of incremental runs).
    time_offset_seconds: float = 0.0
    # Pin the simulator's clock at this epoch time (plus time_offset_seconds), so that
    # separate runs see exactly the same Reddit (reproducible tests). None: the wall clock.
    fixed_now: float | None = None
    # Fault injection, as FaultPlan fields, e.g. {"error_5xx_rate": 0.1}.
    faults: dict[str, Any] = {}


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


def mask_url(url: str | None) -> str:
    """A URL safe to print or log: passwords (user:password@, ?password=) become ***."""
    if not url:
        return ""
    # Greedy up to the last @ of the authority: a password may contain an unencoded @.
    masked = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/@:?#]*):[^/?#]*@", r"\1:***@", url)
    return re.sub(r"([?&](?:password|secret_access_key|aws_secret_access_key)=)[^&#]*",
                  r"\1***", masked, flags=re.IGNORECASE)


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
    transform_engine: Literal["duckdb", "spark", "glue"] = "duckdb"
    # Where the data-quality checks run: DuckDB (reads the lake itself) or Athena.
    validation_engine: Literal["duckdb", "athena"] = "duckdb"
    # Use the simulator even when credentials are configured (demos, tests).
    use_simulator: bool = False
    # Redis shared by distributed workers (SNOOPIPE_REDIS_URL): the Reddit rate budget
    # of each OAuth client lives there. None: each process keeps its own budget.
    redis_url: str | None = None

    reddit: RedditSettings = RedditSettings()
    extract: ExtractSettings = ExtractSettings()
    runner: RunnerSettings = RunnerSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    athena: AthenaSettings = AthenaSettings()
    redshift: RedshiftSettings = RedshiftSettings()
    spark: SparkSettings = SparkSettings()
    glue: GlueSettings = GlueSettings()
    processed: ProcessedSettings = ProcessedSettings()

    # Where the config file was, to resolve relative paths; set by load_settings.
    base_dir: str = "."

    @field_validator("subreddits")
    @classmethod
    def _valid_subreddits(cls, value: list[str]) -> list[str]:
        return [validate_subreddit(v) for v in value]

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

    return _FileSettings(**{"base_dir": base_dir, **overrides})
