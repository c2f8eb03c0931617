"""Prometheus metrics, one registry per service instance.

Conventions (Prometheus naming guide): `atp_` prefix, base units (`_seconds`), `_total` on
counters, labels of bounded cardinality only (never an order id or an event id).
A registry per instance, not the global one, so tests can run several services in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
RUN_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0)
"""Seconds a batch job (a backtest run) takes: a month of daily bars to a million bars."""
LAG_BUCKETS = (*LATENCY_BUCKETS, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Seconds from an event's time to its handling, up to an hour behind (a consumer catching up)."""


class BusMetrics:
    """What every bus user counts: published, consumed, redelivered and dead-lettered events."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "atp_bus_published_total",
            "Events published, by subject.",
            ["subject"],
            registry=registry,
        )
        self.consumed = Counter(
            "atp_bus_consumed_total",
            "Events handled and acknowledged, by subject.",
            ["subject"],
            registry=registry,
        )
        self.duplicates = Counter(
            "atp_bus_duplicates_total",
            "Publishes the bus recognised as duplicates of a stored event, by subject.",
            ["subject"],
            registry=registry,
        )
        self.handler_errors = Counter(
            "atp_bus_handler_errors_total",
            "Deliveries whose handler raised (the event is redelivered), by subject.",
            ["subject"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "atp_bus_dead_letters_total",
            "Messages sent to the dead-letter subject, by original subject and reason kind.",
            ["subject", "reason"],
            registry=registry,
        )
        self.handle_seconds = Histogram(
            "atp_bus_handle_seconds",
            "Time a handler took per event, by subject.",
            ["subject"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


def new_registry() -> CollectorRegistry:
    """A fresh registry for one service instance."""
    return CollectorRegistry(auto_describe=True)


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus text format, with its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
