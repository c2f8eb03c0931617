"""What TWS's error codes mean to the adapter (TWS API "Message Codes").

TWS reports order refusals, cancellations, connectivity and plain notices all through
`error(reqId, code, text)`; the adapter needs to know which is which:

    1100                      connectivity between TWS and IB lost     -> refuse to trade
    1101, 1102                connectivity restored                    -> reconcile
    202                       order cancelled (by request or by IB)    -> canceled, with reason
    2100-2199, and the codes ib_async treats as warnings (e.g. 110, 399, 404)
                              notices; the order stays live             -> logged
    anything else on an order (201 rejected, 103 duplicate id, 200 no security definition,
    161/10147/10148 cancel refused ...)                               -> an order error: an order
                              never acknowledged is rejected with IB's text; a working one is
                              looked up again (a refused cancel or modify leaves it working)
"""

from __future__ import annotations

from enum import Enum

CONNECTIVITY_LOST = frozenset({1100})
CONNECTIVITY_RESTORED = frozenset({1101, 1102})
ORDER_CANCELED = 202
ORDER_REJECTED = 201
# ib_async's `Wrapper.error` treats these as warnings: the order is still live.
WARNINGS = frozenset({105, 110, 165, 321, 329, 399, 404, 434, 492, 10167})


class ErrorKind(Enum):
    """The adapter's reading of one TWS error code."""

    CONNECTIVITY_LOST = "connectivity_lost"
    CONNECTIVITY_RESTORED = "connectivity_restored"
    CANCELED = "canceled"
    NOTICE = "notice"
    ORDER_ERROR = "order_error"


def classify(code: int) -> ErrorKind:
    """The kind of a TWS error code."""
    if code in CONNECTIVITY_LOST:
        return ErrorKind.CONNECTIVITY_LOST
    if code in CONNECTIVITY_RESTORED:
        return ErrorKind.CONNECTIVITY_RESTORED
    if code == ORDER_CANCELED:
        return ErrorKind.CANCELED
    if code in WARNINGS or 2100 <= code < 2200:
        return ErrorKind.NOTICE
    return ErrorKind.ORDER_ERROR
