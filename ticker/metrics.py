"""Prometheus metrics, all on a registry passed in (never the global default one).

Export times of last success, not ages: PromQL computes
``time() - ticker_station_observed_timestamp_seconds``.

Two kinds of metric live here:

- per-process counters, histograms and gauges (polls, HTTP requests, served data age, leader):
  with several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to one empty directory shared
  by all of them and every scrape returns the sum over the processes;
- the shared state in Redis (each station's observation and fetch times, states, sources, the
  poller's last cycle): read at scrape time by whichever process is scraped, so any worker
  answers the same, whichever one the scrape lands on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric

from ticker.errors import ConfigError, UpstreamError
from ticker.freshness import State
from ticker.report import FreshnessReport

if TYPE_CHECKING:
    from ticker.freshness import Cycle

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OUTCOMES = ("ok", "partial", "error", "store_error", "fenced", "circuit_open")


def upstream_error_kinds() -> list[str]:
    """Every class of upstream failure, from the error hierarchy."""
    kinds: set[str] = set()
    todo: list[type[UpstreamError]] = [UpstreamError]
    while todo:
        cls = todo.pop()
        kinds.add(cls.kind)
        todo.extend(cls.__subclasses__())
    return sorted(kinds)


def multiprocess_dir() -> str | None:
    """The shared metrics directory of a multi-process deployment, if one is configured."""
    path = os.environ.get(MULTIPROC_ENV) or None
    if path is not None and not os.path.isdir(path):
        msg = f"{MULTIPROC_ENV} is set but is not a directory; create it (empty) before starting"
        raise ConfigError(msg)
    return path


class Metrics:
    """Every metric the service exports."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, multiproc_dir: str | None = None
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.multiproc_dir = multiproc_dir or multiprocess_dir()
        r = self.registry
        self.polls = Counter(
            "ticker_polls",
            "Poll cycles by source and outcome (ok, partial, error, store_error, fenced, circuit_open).",
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
            multiprocess_mode="max",
        )
        self.upstream_requests = Counter(
            "ticker_upstream_requests",
            "Requests sent upstream by endpoint (sfctm2, aws_min, ultra_ncst, ultra_fcst); the Hub's "
            "daily quota is shared by every API of a key.",
            ["endpoint"],
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
            "Age of the oldest observation shown in each widget or JSON answer served to readers.",
            buckets=(60, 300, 600, 1200, 1800, 3600, 5400, 7200, 10800, 21600, 43200),
            registry=r,
        )
        self.snapshot_version = Gauge(
            "ticker_snapshot_version",
            "Snapshot version this instance's web processes serve (the newest of them).",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.is_leader = Gauge(
            "ticker_is_leader",
            "1 if this process holds the poll lease and polls, else 0 (sum over live processes).",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.renders = Counter(
            "ticker_variant_renders",
            "Renders of page variants (new data, clock ticks and variants not kept yet).",
            registry=r,
        )
        self.renders_refused = Counter(
            "ticker_variant_renders_refused",
            "Requests for a variant not kept answered 429: the render budget was spent.",
            registry=r,
        )
        self.connections_closed = Counter(
            "ticker_connections_closed",
            "Client connections the server closed: head_timeout (request head too slow) or shed "
            "(the connection limit was reached and this was the slowest or idlest).",
            ["reason"],
            registry=r,
        )
        for reason in ("head_timeout", "shed"):
            self.connections_closed.labels(reason)
        self.state = StateCollector()
        r.register(self.state)
        self._requests: dict[tuple[str, int], Counter] = {}
        self._renders_seen = (0, 0)

    def connection_closed(self, reason: str) -> None:
        self.connections_closed.labels(reason).inc()

    def fold_renders(self, renders: int, refused: int) -> None:
        """Add what a process counted itself (renders, refusals) since the last call."""
        seen_renders, seen_refused = self._renders_seen
        if renders > seen_renders:
            self.renders.inc(renders - seen_renders)
        if refused > seen_refused:
            self.renders_refused.inc(refused - seen_refused)
        self._renders_seen = (max(renders, seen_renders), max(refused, seen_refused))

    def exposition_registry(self) -> CollectorRegistry:
        """The registry /metrics reads: this process's, or the merge of every process's files."""
        if self.multiproc_dir is None:
            return self.registry
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=self.multiproc_dir)  # type: ignore[no-untyped-call]
        merged.register(self.state)
        return merged

    def init_source(self, source: str) -> None:
        """Create every poll and error series at zero, so alerts see them before the first fault."""
        for outcome in OUTCOMES:
            self.polls.labels(source, outcome)
        for kind in upstream_error_kinds():
            self.upstream_errors.labels(source, kind)
        self.poll_duration.labels(source)

    def observe_cycle(self, result: Cycle) -> None:
        """Count one poll cycle."""
        self.polls.labels(result.source, result.outcome).inc()
        self.poll_duration.labels(result.source).observe(result.duration_s)
        if result.outcome == "error" and result.error_kind:
            self.upstream_errors.labels(result.source, result.error_kind).inc()
        for feed, kind in result.feeds.items():
            if kind is not None:
                self.upstream_errors.labels(feed, kind).inc()
        for endpoint, count in result.requests.items():
            self.upstream_requests.labels(endpoint).inc(count)
        if result.outcome in ("ok", "partial"):
            self.last_poll_success.labels(result.source).set(result.started_at.timestamp())

    def count_request(self, route: str, status: int, count: int = 1) -> None:
        """Count HTTP answers by route and status (children cached: routed hits call this each)."""
        child = self._requests.get((route, status))
        if child is None:
            child = self._requests[(route, status)] = self.http_requests.labels(route, str(status))
        child.inc(count)

    def observe_served_age(self, age_s: float, count: int = 1) -> None:
        """Observe the data age of ``count`` answers that all served the same age."""
        observe_many(self.served_age, age_s, count)

    def process_exited(self, pid: int | None = None) -> None:
        """Drop a finished process's live gauges (is_leader, snapshot version) from the merge."""
        if self.multiproc_dir is not None:
            multiprocess.mark_process_dead(pid or os.getpid(), self.multiproc_dir)  # type: ignore[no-untyped-call]


def observe_many(histogram: Histogram, value: float, count: int) -> None:
    """What ``count`` calls of ``histogram.observe(value)`` record, in one step.

    prometheus_client has no bulk observe; this adds to the sum and the one bucket that
    ``observe`` would, through the same value objects (so multiprocess files stay right). A
    client library without those attributes gets the plain loop.
    """
    if count <= 0:
        return
    try:
        total, buckets, bounds = histogram._sum, histogram._buckets, histogram._upper_bounds
    except AttributeError:  # pragma: no cover - a prometheus_client with other internals
        for _ in range(count):
            histogram.observe(value)
        return
    total.inc(value * count)
    for bucket, bound in zip(buckets, bounds, strict=True):
        if value <= bound:
            bucket.inc(count)
            return


_STATION = ("station", "name")


class StateCollector:
    """The shared state, as of the last ``update`` (the /metrics handler calls it per scrape)."""

    def __init__(self) -> None:
        self._families: list[Metric] = []

    def describe(self) -> Iterable[Metric]:
        return self._build(None)

    def collect(self) -> Iterable[Metric]:
        return list(self._families)

    def update(self, report: FreshnessReport) -> None:
        """Take the values of a freshness report."""
        self._families = self._build(report)

    def _build(self, report: FreshnessReport | None) -> list[Metric]:
        g = GaugeMetricFamily
        observed = g(
            "ticker_station_observed_timestamp_seconds",
            "Upstream observation time of the station's stored observation (Unix time).",
            labels=_STATION,
        )
        fetched = g(
            "ticker_station_fetched_timestamp_seconds",
            "When the station last came back from an upstream (Unix time).",
            labels=_STATION,
        )
        max_age = g(
            "ticker_station_max_age_seconds",
            "Observation age past which the station is stale (stations.yaml max_age).",
            labels=_STATION,
        )
        late_after = g(
            "ticker_station_late_after_seconds",
            "Observation age past which the station is late.",
            labels=_STATION,
        )
        state = g(
            "ticker_station_state",
            "1 for the station's current freshness state (fresh, late, stale, missing), else 0.",
            labels=(*_STATION, "state"),
        )
        source_up = g(
            "ticker_source_up",
            "1 if the source's last poll succeeded, 0 if it failed.",
            labels=("source",),
        )
        source_failing = g(
            "ticker_source_failing",
            "1 for the class of failure (auth, quota, timeout, ...) the source fails with now.",
            labels=("source", "kind"),
        )
        source_success = g(
            "ticker_source_last_success_timestamp_seconds",
            "When the source last answered with data (Unix time).",
            labels=("source",),
        )
        last_cycle = g(
            "ticker_poller_last_cycle_timestamp_seconds",
            "When the poller (whichever process holds the lease) last ran a cycle (Unix time).",
        )
        interval = g("ticker_poll_interval_seconds", "Configured seconds between poll cycles.")
        redis_up = g("ticker_redis_up", "1 if this process reached Redis during the scrape, else 0.")
        redis_state = g(
            "ticker_redis_state",
            "1 for Redis's state during the scrape: ok, unreachable or refusing_writes.",
            labels=("state",),
        )
        status = g(
            "ticker_freshness_status",
            "The verdict of ticker check: 0 ok, 1 warning, 2 critical.",
        )
        w_success = g(
            "ticker_warnings_last_success_timestamp_seconds",
            "When the weather-warnings feed last answered successfully (Unix time).",
            labels=("source",),
        )
        w_max_age = g(
            "ticker_warnings_max_age_seconds",
            "Feed age past which warnings are removed from every answer (TICKER_WARNINGS_MAX_AGE_S).",
            labels=("source",),
        )
        w_up = g(
            "ticker_warnings_up",
            "1 while warnings are shown (the feed answered within its max age), 0 while unknown.",
            labels=("source",),
        )
        families: list[Metric] = [
            observed,
            fetched,
            max_age,
            late_after,
            state,
            source_up,
            source_failing,
            source_success,
            last_cycle,
            interval,
            redis_up,
            redis_state,
            status,
            w_success,
            w_max_age,
            w_up,
        ]
        if report is None:
            return families
        for row in report.stations:
            labels = [str(row.id), row.name]
            if row.observed_at is not None:
                observed.add_metric(labels, row.observed_at.timestamp())
            if row.fetched_at is not None:
                fetched.add_metric(labels, row.fetched_at.timestamp())
            max_age.add_metric(labels, row.max_age_s)
            if row.late_after_s is not None:
                late_after.add_metric(labels, row.late_after_s)
            for value in State:
                state.add_metric([*labels, value.value], 1.0 if row.state is value else 0.0)
        for source in report.sources:
            if source.state != "unknown":
                source_up.add_metric([source.name], 1.0 if source.state == "ok" else 0.0)
                failing = source.last_error_kind if source.state == "failing" else None
                for kind in sorted({*upstream_error_kinds(), *([failing] if failing else [])}):
                    source_failing.add_metric([source.name, kind], 1.0 if kind == failing else 0.0)
            if source.last_success_at is not None:
                source_success.add_metric([source.name], source.last_success_at.timestamp())
        if report.poller.last_cycle_at is not None:
            last_cycle.add_metric([], report.poller.last_cycle_at.timestamp())
        interval.add_metric([], report.poller.interval_s)
        redis_up.add_metric([], 0.0 if report.redis == "unreachable" else 1.0)
        for redis_value in ("ok", "unreachable", "refusing_writes"):
            redis_state.add_metric([redis_value], 1.0 if report.redis == redis_value else 0.0)
        status.add_metric([], report.status.exit_code)
        feed = report.warnings
        if feed is not None and report.redis == "ok":
            w_max_age.add_metric([feed.source], feed.max_age_s)
            if feed.last_success_at is not None:
                w_success.add_metric([feed.source], feed.last_success_at.timestamp())
            if feed.status != "not_polled":
                w_up.add_metric([feed.source], 1.0 if feed.status == "ok" else 0.0)
        return families
