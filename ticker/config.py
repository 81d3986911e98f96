"""Settings from the environment (TICKER_*), checked at start-up. The stations file: ``ticker.stations``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGED_STATIONS = Path(__file__).with_name("stations.yaml")
DEFAULT_POLL_INTERVAL_S = {"sim": 60.0, "kma_apihub": 300.0}
# With publication timing the poller ticks every minute; each feed asks only when it is due.
PUBLICATION_TICK_S = 60.0


class Settings(BaseSettings):
    """Every knob of the service; environment variables carry the prefix TICKER_."""

    model_config = SettingsConfigDict(
        env_prefix="TICKER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    redis_url: SecretStr | None = Field(
        default=None, description="redis://, rediss://, unix:// or redis+sentinel:// URL"
    )
    source: Literal["kma_apihub", "sim"] | None = None
    kma_base_url: str = "https://apihub.kma.go.kr"
    kma_auth_key: SecretStr | None = None
    kma_timeout_s: float = Field(default=10.0, gt=0, le=120, description="per-request read timeout")
    kma_retries: int = Field(default=2, ge=0, le=10, description="extra attempts within one cycle")
    kma_cycle_budget_s: float = Field(
        default=45.0, gt=0, description="time one poll cycle may spend on the upstream, retries included"
    )
    fallback: Literal["ultra_ncst", "none"] = Field(
        default="ultra_ncst", description="second source for stations whose ASOS row is missing or late"
    )
    fallback_url: str | None = Field(
        default=None, description="getUltraSrtNcst endpoint; default: the API Hub's typ02 proxy of it"
    )
    fallback_auth_key: SecretStr | None = Field(
        default=None, description="key for fallback_url; default: TICKER_KMA_AUTH_KEY"
    )
    poll_timing: Literal["publication", "interval"] = Field(
        default="publication",
        description="publication: tick every minute, ask the hourly table only when a new hour can be "
        "out; interval: ask it on every cycle",
    )
    word_feeds: str = Field(
        default="aws_min,ultra_ncst,ultra_fcst",
        pattern=r"^(none|((aws_min|ultra_ncst|ultra_fcst)(,(aws_min|ultra_ncst|ultra_fcst))*))$",
        description="evidence feeds of the weather word (comma separated), or none",
    )
    stations_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    poll_interval_s: float | None = Field(default=None, gt=0)
    poll_jitter_s: float = Field(default=5.0, ge=0)
    lease_ttl_s: float = Field(
        default=15.0,
        ge=0.3,
        le=3600,
        description="poll lease lifetime: a dead poller's replacement starts polling within it",
    )
    data_dir: Path = Path(".ticker")
    role: Literal["all", "web", "poller"] = "all"
    # "auto": the fast path when this aiohttp is in the tested range and has every hook it uses;
    # "on": whenever it has the hooks (to try a new aiohttp); "off": aiohttp's public API alone.
    fast_path: Literal["auto", "on", "off"] = "auto"
    workers: int = Field(default=1, ge=1, le=64)
    frame_ancestors: str = "*"
    public_url: str | None = Field(
        default=None,
        description="the origin readers reach this service at (https://ticker.example): oEmbed "
        "answers point there, and pages carry oEmbed discovery links to it",
    )
    amp_origins: str = Field(
        default="",
        description="origins of AMP pages allowed to read /v1/amp (the __amp_source_origin they "
        "send), separated by spaces or commas",
    )
    hard_max_age_s: int = Field(
        default=6 * 3600, gt=0, description="older observations are left out of the widget"
    )
    warnings_interval_s: float = Field(
        default=180.0, gt=0, description="seconds between polls of the weather-warnings feed"
    )
    warnings_max_age_s: float = Field(
        default=1800.0,
        gt=0,
        description="warnings are removed from every answer when the feed has not answered for this long",
    )
    renders_per_s: float = Field(
        default=20.0,
        gt=0,
        le=10_000,
        description="renders of variants not kept, per process; past it such requests get a 429",
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("kma_auth_key", "fallback_auth_key", "redis_url", "source", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # `TICKER_KMA_AUTH_KEY=` (as compose writes `${TICKER_KMA_AUTH_KEY:-}`) means no key.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("kma_base_url", "fallback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "expected an http:// or https:// URL with a host, such as https://apihub.kma.go.kr"
            )
        return value

    @property
    def effective_source(self) -> str:
        """The source to poll: explicit, else the API Hub when a key is set, else sim."""
        if self.source is not None:
            return self.source
        return "kma_apihub" if self.kma_auth_key is not None else "sim"

    @property
    def effective_poll_interval_s(self) -> float:
        if self.poll_interval_s is not None:
            return self.poll_interval_s
        if self.effective_source == "kma_apihub" and self.poll_timing == "publication":
            return PUBLICATION_TICK_S
        return DEFAULT_POLL_INTERVAL_S[self.effective_source]

    @property
    def warnings_source(self) -> str:
        """The warnings feed that goes with the source: the Hub's, or simulated warnings."""
        return "sim_warnings" if self.effective_source == "sim" else "kma_warnings"

    @property
    def effective_word_feeds(self) -> list[str]:
        """The weather-word feeds asked (none with the simulated source)."""
        if self.effective_source == "sim" or self.word_feeds == "none":
            return []
        return self.word_feeds.split(",")

    def stations_path(self) -> Path:
        """The stations file: configured, else ./stations.yaml, else the packaged copy."""
        if self.stations_file is not None:
            return self.stations_file
        local = Path("stations.yaml")
        return local if local.is_file() else PACKAGED_STATIONS
