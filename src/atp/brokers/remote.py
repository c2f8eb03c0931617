"""What the adapters of remote venues (Alpaca, Interactive Brokers) share.

Both keep an `OrderTracker`, hand every update to one listener, call a hook when their
connection comes back (so reconciliation runs), and refuse to trade while they cannot vouch
for their books.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from atp.brokers.base import UpdateListener
from atp.brokers.models import Order
from atp.brokers.tracker import OrderTracker
from atp.core.errors import Conflict
from atp.core.events import OrderUpdate

ReconnectHook = Callable[[str], Awaitable[None]]


class AdapterRefusing(Conflict):
    """The adapter may not trade now (not reconciled, venue unreachable); the reason says why."""

    code = "adapter_refusing"


async def discard_update(_update: OrderUpdate) -> None:
    """The listener until one is set: updates are kept in the tracker either way."""
    return None


class RemoteAdapterHooks:
    """The listener, the reconnect hook and the restore of a remote venue's adapter."""

    tracker: OrderTracker
    _listener: UpdateListener = staticmethod(discard_update)
    _on_reconnect: ReconnectHook | None = None

    def set_listener(self, listener: UpdateListener) -> None:
        """Names the coroutine that receives every update."""
        self._listener = listener

    def set_reconnect_listener(self, hook: ReconnectHook) -> None:
        """Names the coroutine called (with the trigger) when the venue's connection is back."""
        self._on_reconnect = hook

    def restore(self, orders: Iterable[Order]) -> None:
        """Puts back the orders of earlier runs, so updates and lookups settle them."""
        self.tracker.restore(orders)
