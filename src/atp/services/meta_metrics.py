"""The meta-agent's Prometheus metrics: decisions, agreement, window latency, per-agent scores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from atp.meta.coordinator import DecisionResult, MetaCoordinator
from atp.telemetry.metrics import LATENCY_BUCKETS

WINDOW_BUCKETS = (*LATENCY_BUCKETS, 5.0, 10.0, 30.0)
RATIO_BUCKETS = (0.2, 0.34, 0.5, 0.67, 0.75, 0.9, 1.0)


class _ScoreCollector(Collector):
    """Per-agent score gauges, computed at scrape time so the decision path never pays."""

    def __init__(self, coordinator: MetaCoordinator) -> None:
        self._coordinator = coordinator

    def collect(self) -> Iterator[GaugeMetricFamily]:
        reports = self._coordinator.agents()
        gauges: list[tuple[str, str, Any]] = [
            (
                "atp_meta_agent_weight",
                "Effective weight the next window uses.",
                lambda r: r.effective_weight,
            ),
            (
                "atp_meta_agent_enabled",
                "1 if the agent's intents count.",
                lambda r: 1.0 if r.enabled else 0.0,
            ),
            ("atp_meta_agent_hit_rate", "Hits over scored intents.", lambda r: r.hit_rate),
            (
                "atp_meta_agent_pnl",
                "P&L of the agent's intents as if followed alone.",
                lambda r: float(r.pnl),
            ),
            ("atp_meta_agent_brier", "Brier score of the agent's confidence.", lambda r: r.brier),
            (
                "atp_meta_agent_swung",
                "Decisions whose action the agent's vote changed.",
                lambda r: r.swung,
            ),
            (
                "atp_meta_agent_skill",
                "Decayed hit rate behind adaptive weights.",
                lambda r: r.skill,
            ),
        ]
        for name, documentation, value_of in gauges:
            family = GaugeMetricFamily(name, documentation, labels=["agent"])
            for report in reports:
                value = value_of(report)
                if value is not None:
                    family.add_metric([report.agent_id], float(value))
            yield family


class MetaMetrics:
    """What the meta-agent measures: decisions, agreement, window latency, abstentions."""

    def __init__(self, registry: CollectorRegistry, coordinator: MetaCoordinator) -> None:
        self.decisions = Counter(
            "atp_meta_decisions_total",
            "Decisions, by voting strategy, action and whether risk approved them.",
            ["strategy", "action", "approved"],
            registry=registry,
        )
        self.agreement = Histogram(
            "atp_meta_agreement_ratio",
            "Share of voters on the most chosen side, per decision.",
            buckets=RATIO_BUCKETS,
            registry=registry,
        )
        self.window_seconds = Histogram(
            "atp_meta_window_seconds",
            "Time from a window opening to its decision, by how it closed.",
            ["closed_by"],
            buckets=WINDOW_BUCKETS,
            registry=registry,
        )
        self.abstentions = Counter(
            "atp_meta_abstentions_total",
            "Windows an enabled agent did not answer, by agent.",
            ["agent"],
            registry=registry,
        )
        self.intents = Counter(
            "atp_meta_intents_total",
            "Intents received, by what became of them (accepted, duplicate, late, disabled, "
            "invalid).",
            ["admission"],
            registry=registry,
        )
        self.open_windows = Gauge(
            "atp_meta_open_windows", "Decision windows waiting for answers.", registry=registry
        )
        self.open_windows.set_function(lambda: coordinator.open_windows)
        registry.register(_ScoreCollector(coordinator))

    def observe(self, result: DecisionResult) -> None:
        """Counts one decision."""
        decision = result.decision
        self.decisions.labels(
            decision.voting_strategy, decision.action.value, str(decision.approved).lower()
        ).inc()
        self.agreement.observe(result.agreement)
        self.window_seconds.labels(result.closed_by).observe(result.latency_seconds)
        for vote in decision.votes:
            if vote.vote == "abstain":
                self.abstentions.labels(vote.agent_id).inc()
