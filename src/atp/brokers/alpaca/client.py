"""Alpaca's REST API through alpaca-py, made async and translated at the boundary.

alpaca-py's `TradingClient` is synchronous (requests); each call runs in a worker thread under
a deadline. Vendor failures become our error tree here and nowhere else:

    429                         -> RateLimited (retried with exponential backoff, then raised)
    403 (e.g. buying power)     -> VenueRejected
    422 duplicate client id     -> DuplicateClientOrderId (the caller adopts the existing order)
    other 4xx                   -> VenueRejected (404 -> NotFound)
    5xx, timeout, connection    -> VenueUnavailable: the outcome of the call is unknown

Only 429 is retried: Alpaca refused the call before acting on it. A timeout is never retried
here, since the venue may have acted; the caller leaves such an order UNKNOWN.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest

from atp.brokers.alpaca.config import AlpacaConfig
from atp.brokers.alpaca.mapping import DUPLICATE_CLIENT_ORDER_ID
from atp.core.errors import NotFound, RateLimited, VenueRejected, VenueUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
Raw = dict[str, Any]


class DuplicateClientOrderId(VenueRejected):
    """Alpaca already holds an order with this client order id (422, code 40010001)."""

    code = "duplicate_client_order_id"


class AlpacaRest:
    """The calls the adapter makes, as coroutines returning Alpaca's JSON objects."""

    def __init__(self, config: AlpacaConfig) -> None:
        self._config = config
        self._client = TradingClient(
            api_key=config.api_key.get_secret_value(),
            secret_key=config.secret_key.get_secret_value(),
            paper=config.paper,
            raw_data=True,
            url_override=config.url_override,
        )
        # alpaca-py retries 429s itself by sleeping in the calling thread; retries belong to
        # us (bounded, async, counted), so its own are turned off.
        self._client._retry = 0
        self.rate_limited = 0

    async def submit(self, body: Raw) -> Raw:
        """`POST /v2/orders` with `body`; the created order."""
        result: Raw = await self._call("submit", lambda: self._client.post("/orders", body))
        return result

    async def order_by_client_id(self, client_order_id: str) -> Raw | None:
        """`GET /v2/orders:by_client_order_id`; None if Alpaca has no such order."""
        try:
            result: Raw = await self._call(
                "get order", lambda: self._client.get_order_by_client_id(client_order_id)
            )
            return result
        except NotFound:
            return None

    async def open_orders(self) -> list[Raw]:
        """`GET /v2/orders?status=open`."""
        query = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=self._config.open_orders_limit)
        result: list[Raw] = await self._call("open orders", lambda: self._client.get_orders(query))
        return result

    async def cancel(self, order_id: str) -> None:
        """`DELETE /v2/orders/{id}`: Alpaca answers 204 and streams the outcome."""
        await self._call("cancel", lambda: self._client.cancel_order_by_id(order_id))

    async def replace(self, order_id: str, body: Raw) -> Raw:
        """`PATCH /v2/orders/{id}`; the new order that replaces it."""
        result: Raw = await self._call(
            "replace", lambda: self._client.patch(f"/orders/{order_id}", body)
        )
        return result

    async def positions(self) -> list[Raw]:
        """`GET /v2/positions`."""
        result: list[Raw] = await self._call("positions", self._client.get_all_positions)
        return result

    async def account(self) -> Raw:
        """`GET /v2/account`."""
        result: Raw = await self._call("account", self._client.get_account)
        return result

    async def _call(self, what: str, call: Callable[[], Any]) -> Any:
        config = self._config
        delay = config.backoff_seconds
        for attempt in range(config.rate_limit_retries + 1):
            try:
                return await asyncio.wait_for(
                    asyncio.to_thread(call), timeout=config.request_timeout_seconds
                )
            except APIError as exc:
                error = _translate(what, exc)
                if not isinstance(error, RateLimited):
                    raise error from exc
                self.rate_limited += 1
                if attempt == config.rate_limit_retries:
                    raise error from exc
                log.warning("alpaca %s: rate limited, retrying in %.2f s", what, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, config.backoff_max_seconds)
            except TimeoutError as exc:
                raise VenueUnavailable(
                    f"alpaca {what}: no answer within {config.request_timeout_seconds} s; "
                    "outcome unknown"
                ) from exc
            except requests.RequestException as exc:
                raise VenueUnavailable(f"alpaca {what}: {type(exc).__name__}: {exc}") from exc
        raise VenueUnavailable(f"alpaca {what}: no attempt made")  # pragma: no cover

    def __repr__(self) -> str:
        # Never the keys.
        return f"AlpacaRest(paper={self._config.paper}, url={self._config.url_override!r})"


def _translate(what: str, exc: APIError) -> Exception:
    status = exc.status_code
    code, message = _body(str(exc))
    text = f"alpaca {what}: {status} {message}"
    if status == 429:
        return RateLimited(text)
    if status == 422 and code == DUPLICATE_CLIENT_ORDER_ID:
        return DuplicateClientOrderId(text)
    if status == 404:
        return NotFound(text)
    if status is not None and 400 <= status < 500:
        return VenueRejected(text)
    return VenueUnavailable(text)


def _body(text: str) -> tuple[int | None, str]:
    try:
        data = json.loads(text)
    except ValueError:
        return None, text
    if not isinstance(data, dict):
        return None, text
    code = data.get("code")
    return (code if isinstance(code, int) else None), str(data.get("message", text))
