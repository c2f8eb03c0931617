"""Records a full order lifecycle between ib_async and the fake TWS into `recordings/`.

Run from `tests/`: `../.venv/bin/python -m fakes.ib.record`. The session: connect (client id
7), a market order `rec-mkt` for 10 AAPL that fills with its commission, a GTC limit order
`rec-lmt` that is then cancelled, disconnect. Written: `lifecycle.server.bin` (every byte TWS
sent, handshake answer first) and `lifecycle.client.bin` (every byte the client sent, from
`API\\0`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ib_async import IB, LimitOrder, MarketOrder, Stock

from .tws import FakeTws

RECORDINGS = Path(__file__).with_name("recordings")
LIFECYCLE = RECORDINGS / "lifecycle"


async def until(ib: IB, condition: Callable[[], bool]) -> None:
    """Waits for packets from TWS until `condition` holds."""
    while not condition():
        await ib.updateEvent


async def record(stem: Path = LIFECYCLE) -> None:
    """Runs the session against a recording fake TWS."""
    fake = FakeTws(record_to=stem)
    await fake.start()
    ib = IB()
    try:
        await ib.connectAsync("127.0.0.1", fake.port, clientId=7, timeout=5)
        stock = Stock("AAPL", "SMART", "USD")
        market = ib.placeOrder(stock, MarketOrder("BUY", 10, orderRef="rec-mkt"))
        await until(ib, lambda: bool(market.fills and market.fills[0].commissionReport.execId))
        limit = ib.placeOrder(stock, LimitOrder("BUY", 5, 150.25, orderRef="rec-lmt", tif="GTC"))
        await until(ib, lambda: limit.orderStatus.status == "Submitted")
        ib.cancelOrder(limit.order)
        await until(ib, lambda: any(entry.errorCode == 202 for entry in limit.log))
    finally:
        ib.disconnect()
        await asyncio.sleep(0.05)
        await fake.stop()


if __name__ == "__main__":
    asyncio.run(record())
