"""Prometheus metrics, all on a registry passed in (never the global default one).

Export times of last success, not ages: PromQL computes ``time() - ticker_station_observed_timestamp_seconds``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every metric the service exports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.station_observed = Gauge(
            "ticker_station_observed_timestamp_seconds",
            "Upstream observation time of the station's stored observation (Unix time).",
            ["station", "name"],
            registry=r,
        )
        self.station_fetched = Gauge(
            "ticker_station_fetched_timestamp_seconds",
            "When the station last came back from an upstream (Unix time).",
            ["station", "name"],
            registry=r,
        )
        self.polls = Counter(
            "ticker_polls",
            "Poll cycles by source and outcome.",
            ["source", "outcome"],
            registry=r,
        )
        self.poll_duration = Histogram(
            "ticker_poll_duration_seconds",
            "Duration of one poll cycle.",
            ["source"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
            registry=r,
        )
        self.last_poll_success = Gauge(
            "ticker_last_poll_success_timestamp_seconds",
            "When a poll cycle of this process last succeeded (Unix time).",
            ["source"],
            registry=r,
        )
        self.upstream_errors = Counter(
            "ticker_upstream_errors",
            "Upstream failures by source and class (auth, forbidden, quota, maintenance, status, "
            "timeout, connection, parse, no_data).",
            ["source", "kind"],
            registry=r,
        )
        self.http_requests = Counter(
            "ticker_http_requests",
            "HTTP requests by route and status.",
            ["route", "status"],
            registry=r,
        )
        self.served_age = Histogram(
            "ticker_served_data_age_seconds",
            "Age of the newest observation in each widget or JSON answer served to readers.",
            buckets=(60, 300, 600, 1200, 1800, 3600, 5400, 7200, 10800, 21600, 43200),
            registry=r,
        )
        self.snapshot_version = Gauge(
            "ticker_snapshot_version",
            "Snapshot version this web process serves.",
            registry=r,
        )
        self.is_leader = Gauge(
            "ticker_is_leader",
            "1 if this process holds the poll lease and polls, else 0.",
            registry=r,
        )
