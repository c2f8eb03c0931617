"""The `trade_updates` websocket through alpaca-py's `TradingStream`, with connection hooks.

`TradingStream` reconnects by itself but tells nobody; an adapter must know, because every
update sent while the socket was down is lost and only reconciliation finds it again. This
subclass calls `on_connected` after each successful authenticate + listen, and
`on_disconnected` when a live connection drops. Messages are taken raw (dicts), so an event
or status alpaca-py's models do not know cannot break the stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from alpaca.trading.stream import TradingStream

Hook = Callable[[], Awaitable[None]]


class AlpacaTradeStream(TradingStream):
    """A `TradingStream` (raw messages) that reports connects and disconnects."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        paper: bool,
        url_override: str | None,
        on_connected: Hook,
        on_disconnected: Hook,
    ) -> None:
        super().__init__(
            api_key,
            secret_key,
            paper=paper,
            raw_data=True,
            url_override=url_override,  # type: ignore[arg-type]
        )
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected

    async def _start_ws(self) -> None:
        await super()._start_ws()  # type: ignore[no-untyped-call]
        await self._on_connected()

    async def close(self) -> None:
        """Closes the socket; reports the loss of a live connection."""
        was_running = self._running
        await super().close()
        if was_running:
            await self._on_disconnected()

    async def run_forever(self) -> None:
        """Runs the stream in the current event loop until `stop_ws` (alpaca-py's `run()`
        starts a loop of its own, which a service that already runs one cannot use)."""
        await self._run_forever()  # type: ignore[no-untyped-call]


def message_data(message: Any) -> dict[str, Any] | None:
    """The `data` of a `trade_updates` message, or None for anything else."""
    if not isinstance(message, dict) or message.get("stream") != "trade_updates":
        return None
    data = message.get("data")
    return data if isinstance(data, dict) else None
