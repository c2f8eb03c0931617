"""`atp up` replays history, so its risk engine counts trading days by the replayed bars.

docs/risk.md: "With `make up` replaying history (its default), `market` is the setting to use".
The services `atp up` starts read their settings from the environment it hands them; these
tests read the risk settings the meta-agent would read from that environment.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from atp.services.launcher import replay_defaults
from atp.services.risk_wiring import RiskSettings


def _meta_agent_reads(monkeypatch: pytest.MonkeyPatch) -> RiskSettings:
    """The risk settings a service started by `atp up` reads."""
    for name, value in replay_defaults().items():
        monkeypatch.setenv(name, value)
    return RiskSettings()


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATP_RISK_LIMITS", raising=False)
    monkeypatch.delenv("ATP_RISK_LIMITS__DAILY_LOSS__DAY_BOUNDARY", raising=False)


def test_with_no_risk_settings_the_trading_day_follows_the_replayed_bars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clear(monkeypatch)
    assert _meta_agent_reads(monkeypatch).limits.daily_loss.day_boundary == "market"


def test_other_daily_loss_settings_are_kept_beside_the_replay_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("ATP_RISK_LIMITS", '{"daily_loss": {"max_loss": "200"}}')
    daily_loss = _meta_agent_reads(monkeypatch).limits.daily_loss
    assert (daily_loss.max_loss, daily_loss.day_boundary) == (Decimal(200), "market")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ATP_RISK_LIMITS", '{"daily_loss": {"max_loss": "200", "day_boundary": "clock"}}'),
        ("ATP_RISK_LIMITS__DAILY_LOSS__DAY_BOUNDARY", "clock"),
    ],
)
def test_a_day_boundary_the_operator_chose_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv(name, value)
    assert _meta_agent_reads(monkeypatch).limits.daily_loss.day_boundary == "clock"


def test_limits_that_do_not_validate_are_left_for_the_meta_agent_to_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("ATP_RISK_LIMITS", '{"daily_loss": {"max_loss": "-1"}}')
    assert replay_defaults() == {}
