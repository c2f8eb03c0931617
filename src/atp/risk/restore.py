"""The risk engine's restart: rebuilding its state from recorded history, failing closed meanwhile.

After a start the service replays, in order, the operator changes recorded on
`control.actions`, each symbol's last stored bar and the last published trading state, between
`begin_restore` and `finish_restore`; until the end every order is refused. Nothing replayed
queues an event, except the state change that `finish_restore` publishes (and the reset of a
loss latch left over from an earlier trading day).

`RestoreFromHistory` is a part of `RiskEngine` (its base class), so the service calls these
methods on the engine; `_EngineState` names what of the engine they read and write.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from atp.core.enums import TradingState
from atp.core.events import ControlAction, MarketSignal, TradingStateChanged
from atp.core.ids import Symbol
from atp.risk import records
from atp.risk.config import RiskEngineConfig
from atp.risk.exposure import ExposureBook
from atp.risk.trading_day import TradingCalendar

ENGINE_ACTOR = records.ENGINE_ACTOR
KILL_SWITCH_ON = "kill switch on: "
"""How the state change of a tripped kill switch begins its reason (then the operator's)."""


class _EngineState(Protocol):
    book: ExposureBook
    blocked: set[Symbol]
    kill_switch: bool
    kill_switch_reason: str
    loss_latched: bool
    state: TradingState
    day_start_pnl: Decimal
    _calendar: TradingCalendar
    _restoring: bool
    _restored_baseline: tuple[str, Decimal] | None
    _stale_latch_day: str | None

    @property
    def trading_day(self) -> date: ...

    def _apply_config(self, config: RiskEngineConfig) -> None: ...

    def _follow_market_day(self, moment: datetime) -> None: ...

    def _reset_day(self, *, actor: str, automatic: bool, reason: str) -> None: ...

    def _update_state(self, reason: str, rule: str | None, actor: str) -> None: ...


class RestoreFromHistory:
    """Re-applies recorded history to the engine after a start (see the module docstring)."""

    # What only a restore sets (RiskEngine.__init__ gives the first values).
    _restoring: bool
    _restored_baseline: tuple[str, Decimal] | None
    _stale_latch_day: str | None

    def begin_restore(self: _EngineState) -> None:
        """Refuses every order until `finish_restore`: state is not known yet (fail closed)."""
        self._restoring = True

    def restore_control(self: _EngineState, action: ControlAction) -> None:
        """Re-applies an operator change recorded on `control.actions` (no event is queued)."""
        if action.service != records.SERVICE:
            return
        parameters = action.parameters
        if action.action == "set_limits":
            self._apply_config(RiskEngineConfig.model_validate(parameters["config"]))
        elif action.action == "block_symbol":
            # Upper-cased: earlier versions recorded a block as typed (`aapl`).
            self.blocked.add(Symbol(parameters["symbol"].upper()))
        elif action.action == "unblock_symbol":
            self.blocked.discard(Symbol(parameters["symbol"].upper()))
        elif action.action == "kill_switch_on":
            # The operator's own words; the state change's reason carries a prefix.
            self.kill_switch_reason = parameters["reason"]
        elif action.action == "kill_switch_reset":
            self.kill_switch_reason = ""
        elif action.action == "daily_pnl_reset":
            self._restored_baseline = (parameters["trading_day"], Decimal(parameters["baseline"]))

    def restore_mark(self: _EngineState, signal: MarketSignal) -> None:
        """Re-applies a symbol's last stored price, so P&L and exposure are right at once.

        With market-data day boundaries the bar also sets the trading day (no event: the
        day's recorded P&L baseline is applied by `finish_restore`).
        """
        if self._calendar.market_days:
            self._follow_market_day(signal.timestamp)
        self.book.mark(signal.symbol, signal.close)

    def restore_state(self: _EngineState, change: TradingStateChanged) -> None:
        """Re-applies a published trading state (the last one replayed wins).

        The kill switch's reason is the one recorded when it was tripped (`restore_control`):
        a later state change (a loss, a restart) gives its own reason, not the switch's.
        """
        self.kill_switch = change.kill_switch
        if not change.kill_switch:
            self.kill_switch_reason = ""
        elif not self.kill_switch_reason:  # its record is gone: the best the state tells
            self.kill_switch_reason = change.reason.removeprefix(KILL_SWITCH_ON)
        self.loss_latched = change.loss_breached
        self._stale_latch_day = (
            change.trading_day
            if change.loss_breached and change.trading_day != self.trading_day.isoformat()
            else None
        )
        self.state = change.state

    def finish_restore(self: _EngineState) -> None:
        """Ends the restore: applies today's recorded P&L baseline and opens the gate."""
        baseline_found = False
        if self._restored_baseline is not None:
            day, baseline = self._restored_baseline
            if day == self.trading_day.isoformat():
                self.day_start_pnl = baseline
                baseline_found = True
        if self._calendar.market_days and not baseline_found:
            # Bars of this day were never seen live, so no baseline was recorded: the day's
            # P&L starts at the restore rather than counting every earlier day's.
            self.day_start_pnl = self.book.total_pnl
        self._restoring = False
        if self._stale_latch_day is not None:
            self._reset_day(
                actor=ENGINE_ACTOR,
                automatic=True,
                reason=f"trading day {self.trading_day} began; the loss latch of "
                f"{self._stale_latch_day} is cleared",
            )
            self._stale_latch_day = None
        self._update_state("state restored", None, ENGINE_ACTOR)
