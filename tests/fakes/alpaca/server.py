"""A fake Alpaca: Trading API v2 REST and the `trade_updates` websocket, on a loopback port.

Built to Alpaca's documented API, with order objects shaped like `payloads/order.json` and
errors answered as `payloads/errors.json` records them. What it models:

- `POST /v2/orders` (client order ids unique: 422 code 40010001; buys beyond buying power:
  403), `GET /v2/orders` (status=open|closed|all), `GET /v2/orders:by_client_order_id`,
  `GET/DELETE/PATCH /v2/orders/{id}`, `GET /v2/positions`, `GET /v2/account`; keys in
  `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` or 401.
- `/stream`: `{"action": "authenticate", ...}` -> `authorization`, `{"action": "listen", ...}`
  -> `listening`, then `trade_updates` messages in binary frames (as the paper endpoint does).
- Faults a test scripts: `faults.append("rate_limit")` (one 429), `"slow"` (the order is
  taken, the answer comes after `slow_seconds`: a client timeout), `stream_online = False`
  (events are lost, as while a socket is down), `drop_streams()` (the socket closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

PAYLOADS = Path(__file__).with_name("payloads")
KEY, SECRET = "fake-key", "fake-secret"


def load(name: str) -> Any:
    """A recorded payload from `payloads/`."""
    return json.loads((PAYLOADS / name).read_text())


ERRORS: dict[str, Any] = load("errors.json")
OPEN = {"new", "accepted", "partially_filled", "pending_new", "pending_cancel", "pending_replace"}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _error(name: str) -> JSONResponse:
    record = ERRORS[name]
    return JSONResponse(record["body"], status_code=record["status"])


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Server(uvicorn.Server):
    """uvicorn that leaves the test runner's signals alone and says when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@dataclass
class FakeAlpaca:
    """The fake's state and its test controls."""

    prices: dict[str, Decimal] = field(default_factory=lambda: {"AAPL": Decimal("179.08")})
    buying_power: Decimal = Decimal(100_000)
    auto_fill: bool = True
    slow_seconds: float = 1.0
    faults: list[str] = field(default_factory=list)
    stream_online: bool = True
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)
    posts: int = 0
    sockets: list[WebSocket] = field(default_factory=list)
    authenticated: int = 0

    def __post_init__(self) -> None:
        self.app = self._build()
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The REST base URL (alpaca-py adds /v2)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def stream_url(self) -> str:
        """The trade_updates websocket URL."""
        return f"ws://127.0.0.1:{self.port}/stream"

    async def start(self) -> None:
        """Serves on 127.0.0.1:`port` until `stop`."""
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", ws="websockets-sansio"
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve())
        await self._server.ready.wait()

    async def stop(self) -> None:
        """Closes every socket and stops serving."""
        await self.drop_streams()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    # -- test controls ---------------------------------------------------------------

    def by_client_id(self, client_order_id: str) -> dict[str, Any] | None:
        """The order with this client order id, if any."""
        return next(
            (o for o in self.orders.values() if o["client_order_id"] == client_order_id), None
        )

    async def fill(self, order_id: str, quantity: Decimal, price: Decimal) -> None:
        """Executes `quantity` of an order at `price` and streams the fill."""
        order = self.orders[order_id]
        before = Decimal(order["filled_qty"])
        average = Decimal(order["filled_avg_price"] or 0)
        filled = before + quantity
        order["filled_avg_price"] = str((average * before + price * quantity) / filled)
        order["filled_qty"] = str(filled)
        done = filled == Decimal(order["qty"])
        order["status"] = "filled" if done else "partially_filled"
        order["updated_at"] = _now()
        sign = 1 if order["side"] == "buy" else -1
        symbol = order["symbol"]
        self.positions[symbol] = self.positions.get(symbol, Decimal(0)) + sign * quantity
        await self.publish(
            "fill" if done else "partial_fill",
            order,
            execution_id=str(uuid.uuid4()),
            price=str(price),
            qty=str(quantity),
            position_qty=str(self.positions[symbol]),
        )

    async def set_status(self, order_id: str, status: str, event: str | None = None) -> None:
        """Moves an order to `status` at the venue and streams `event` (default: status)."""
        order = self.orders[order_id]
        order["status"] = status
        order["updated_at"] = _now()
        await self.publish(event or status, order)

    async def publish(self, event: str, order: dict[str, Any], **extra: Any) -> None:
        """Streams one trade update to every listening socket (lost while offline)."""
        message = {
            "stream": "trade_updates",
            "data": {"event": event, "timestamp": _now(), "order": copy.deepcopy(order), **extra},
        }
        if not self.stream_online:
            return
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.send_bytes(json.dumps(message).encode())

    async def drop_streams(self) -> None:
        """Closes every websocket, as a network blip would."""
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        self.sockets.clear()

    # -- the API ---------------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def auth(request: Request, call_next: Any) -> Any:
            headers = request.headers
            if headers.get("APCA-API-KEY-ID") != KEY or (
                headers.get("APCA-API-SECRET-KEY") != SECRET
            ):
                return _error("unauthorized")
            return await call_next(request)

        @app.post("/v2/orders")
        async def submit(request: Request) -> Any:
            self.posts += 1
            body = await request.json()
            fault = self.faults.pop(0) if self.faults else None
            if fault == "rate_limit":
                return _error("rate_limited")
            if self.by_client_id(body.get("client_order_id", "")) is not None:
                return _error("duplicate_client_order_id")
            qty = Decimal(body["qty"])
            price = Decimal(body.get("limit_price") or self.prices.get(body["symbol"], 0))
            if body["side"] == "buy" and qty * price > self.buying_power:
                return _error("insufficient_buying_power")
            order = self._new_order(body)
            await self.publish("new", order)
            if fault == "slow":
                await asyncio.sleep(self.slow_seconds)
            answer = copy.deepcopy(order)
            if self.auto_fill and order["type"] == "market":
                await self.fill(order["id"], qty, self.prices[order["symbol"]])
            return JSONResponse(answer)

        @app.get("/v2/orders")
        async def list_orders(status: str = "open", limit: int = 50) -> Any:
            chosen = [
                o
                for o in self.orders.values()
                if status == "all" or (o["status"] in OPEN) == (status == "open")
            ]
            return JSONResponse(chosen[:limit])

        @app.get("/v2/orders:by_client_order_id")
        async def by_client(client_order_id: str) -> Any:
            order = self.by_client_id(client_order_id)
            return _error("order_not_found") if order is None else JSONResponse(order)

        @app.get("/v2/orders/{order_id}")
        async def get_order(order_id: str) -> Any:
            order = self.orders.get(order_id)
            return _error("order_not_found") if order is None else JSONResponse(order)

        @app.delete("/v2/orders/{order_id}")
        async def cancel(order_id: str) -> Any:
            order = self.orders.get(order_id)
            if order is None:
                return _error("order_not_found")
            if order["status"] not in OPEN:
                return _error("not_cancelable")
            await self.set_status(order_id, "pending_cancel")
            await self.set_status(order_id, "canceled")
            return Response(status_code=204)

        @app.patch("/v2/orders/{order_id}")
        async def replace(order_id: str, request: Request) -> Any:
            old = self.orders.get(order_id)
            if old is None:
                return _error("order_not_found")
            if old["status"] not in OPEN:
                return _error("not_cancelable")
            body = await request.json()
            fields = {k: old[k] for k in ("symbol", "side", "type", "time_in_force")}
            fields.update(
                qty=body.get("qty", old["qty"]),
                limit_price=body.get("limit_price", old["limit_price"]),
                stop_price=body.get("stop_price", old["stop_price"]),
                client_order_id=body.get("client_order_id") or str(uuid.uuid4()),
            )
            new = self._new_order(fields)
            new["replaces"] = order_id
            old["replaced_by"] = new["id"]
            await self.set_status(order_id, "replaced")
            await self.publish("new", new)
            return JSONResponse(new)

        @app.get("/v2/positions")
        async def positions() -> Any:
            out = []
            for symbol, qty in self.positions.items():
                if qty == 0:
                    continue
                record = load("position.json")
                price = self.prices.get(symbol, Decimal(0))
                record.update(
                    symbol=symbol,
                    qty=str(abs(qty)),
                    side="long" if qty > 0 else "short",
                    current_price=str(price),
                    market_value=str(qty * price),
                )
                out.append(record)
            return JSONResponse(out)

        @app.get("/v2/account")
        async def account() -> Any:
            record = load("account.json")
            record["buying_power"] = str(self.buying_power)
            return JSONResponse(record)

        @app.websocket("/stream")
        async def stream(ws: WebSocket) -> None:
            await ws.accept()
            try:
                first = json.loads(await ws.receive_text())
                data = first.get("data", {})
                ok = first.get("action") == "authenticate" and (
                    data.get("key_id"),
                    data.get("secret_key"),
                ) == (KEY, SECRET)
                status = "authorized" if ok else "unauthorized"
                await ws.send_bytes(
                    json.dumps(
                        {
                            "stream": "authorization",
                            "data": {"status": status, "action": "authenticate"},
                        }
                    ).encode()
                )
                if not ok:
                    await ws.close()
                    return
                self.authenticated += 1
                while True:
                    message = json.loads(await ws.receive_text())
                    if message.get("action") == "listen":
                        streams = message["data"]["streams"]
                        await ws.send_bytes(
                            json.dumps(
                                {"stream": "listening", "data": {"streams": streams}}
                            ).encode()
                        )
                        if "trade_updates" in streams and ws not in self.sockets:
                            self.sockets.append(ws)
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                if ws in self.sockets:
                    self.sockets.remove(ws)

        return app

    def _new_order(self, body: dict[str, Any]) -> dict[str, Any]:
        order = load("order.json")
        now = _now()
        order.update(
            id=str(uuid.uuid4()),
            client_order_id=body.get("client_order_id") or str(uuid.uuid4()),
            created_at=now,
            updated_at=now,
            submitted_at=now,
            symbol=body["symbol"],
            qty=str(body["qty"]),
            filled_qty="0",
            filled_avg_price=None,
            type=body["type"],
            order_type=body["type"],
            side=body["side"],
            time_in_force=body["time_in_force"],
            limit_price=body.get("limit_price"),
            stop_price=body.get("stop_price"),
            status="new",
        )
        self.orders[order["id"]] = order
        return order
