"""`SqlOrderStore`: the broker area's `OrderStore` port on SQL, with order history and positions.

Every write is idempotent: a fill is inserted once per fill id (and books the position only
when it was inserted), a state change once per `(venue, client order id, sequence)`, and the
order row moves only forward in sequence. The session-level functions let a consumer make these
writes in the same transaction as its processed-event claim.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from atp.brokers.ports import FillRecord
from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.events import Fill, OrderUpdate
from atp.core.ids import ClientOrderId, DecisionId, FillId, OrderId, Symbol
from atp.core.money import ZERO
from atp.portfolio.ledger import Ledger
from atp.storage.database import Database
from atp.storage.models import FillRow, OrderEventRow, OrderRow, PositionRow
from atp.storage.upsert import insert_if_absent

_TERMINAL = [status.value for status in OrderStatus if status.is_terminal]


async def record_fill_in(session: AsyncSession, record: FillRecord) -> bool:
    """Inserts a fill once per fill id and books it into the venue's position; True if new."""
    fill = record.fill
    inserted = await insert_if_absent(
        session,
        FillRow,
        {
            "fill_id": fill.fill_id,
            "venue": record.venue,
            "client_order_id": record.client_order_id,
            "order_id": record.order_id,
            "symbol": record.symbol,
            "side": record.side.value,
            "quantity": fill.quantity,
            "price": fill.price,
            "commission": fill.commission,
            "filled_at": fill.filled_at,
        },
    )
    if inserted:
        await _book_position(session, record)
    return inserted


async def _book_position(session: AsyncSession, record: FillRecord) -> None:
    # The ledger owns the average-cost and realised P&L rules; the row is its persisted state.
    await insert_if_absent(
        session,
        PositionRow,
        {
            "venue": record.venue,
            "symbol": record.symbol,
            "quantity": ZERO,
            "average_cost": ZERO,
            "realized_pnl": ZERO,
            "updated_at": record.fill.filled_at,
        },
    )
    row = (
        await session.execute(
            select(PositionRow)
            .where(PositionRow.venue == record.venue, PositionRow.symbol == record.symbol)
            .with_for_update()
        )
    ).scalar_one()
    ledger = Ledger(ZERO)
    position = ledger.position(Symbol(record.symbol))
    position.quantity = row.quantity
    position.average_cost = row.average_cost
    position.realized_pnl = row.realized_pnl
    ledger.apply_fill(
        fill_id=record.fill.fill_id,
        symbol=Symbol(record.symbol),
        side=record.side,
        quantity=record.fill.quantity,
        price=record.fill.price,
        commission=record.fill.commission,
    )
    row.quantity = position.quantity
    row.average_cost = position.average_cost
    row.realized_pnl = position.realized_pnl
    row.updated_at = max(row.updated_at, record.fill.filled_at)


def _order_values(update: OrderUpdate) -> dict[str, object]:
    return {
        "venue": update.venue,
        "client_order_id": update.client_order_id,
        "order_id": update.order_id,
        "symbol": update.symbol,
        "side": update.side.value,
        "order_type": update.order_type.value,
        "time_in_force": update.time_in_force.value,
        "quantity": update.quantity,
        "filled_quantity": update.filled_quantity,
        "average_fill_price": update.average_fill_price,
        "limit_price": update.limit_price,
        "stop_price": update.stop_price,
        "status": update.status.value,
        "previous_status": update.previous_status.value if update.previous_status else None,
        "decision_id": update.decision_id,
        "reason": update.reason,
        "fill_id": update.fill.fill_id if update.fill is not None else None,
        "sequence": update.sequence,
        "updated_at": update.updated_at,
    }


async def save_update_in(session: AsyncSession, order_update: OrderUpdate) -> bool:
    """Records an order update (its fill, its state change, the latest state); True if newer."""
    if order_update.fill is not None:
        await record_fill_in(
            session,
            FillRecord(
                venue=order_update.venue,
                client_order_id=order_update.client_order_id,
                order_id=order_update.order_id,
                symbol=order_update.symbol,
                side=order_update.side,
                fill=order_update.fill,
            ),
        )
    await insert_if_absent(
        session,
        OrderEventRow,
        {
            "venue": order_update.venue,
            "client_order_id": order_update.client_order_id,
            "sequence": order_update.sequence,
            "status": order_update.status.value,
            "previous_status": (
                order_update.previous_status.value if order_update.previous_status else None
            ),
            "filled_quantity": order_update.filled_quantity,
            "fill_id": order_update.fill.fill_id if order_update.fill is not None else None,
            "reason": order_update.reason,
            "updated_at": order_update.updated_at,
        },
    )
    values = _order_values(order_update)
    if await insert_if_absent(session, OrderRow, values):
        return True
    # Only a strictly newer sequence may replace the stored state: replays never go backwards.
    result = await session.execute(
        update(OrderRow)
        .where(
            OrderRow.venue == order_update.venue,
            OrderRow.client_order_id == order_update.client_order_id,
            OrderRow.sequence < order_update.sequence,
        )
        .values(values)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _fill_of(row: FillRow) -> Fill:
    return Fill(
        fill_id=FillId(row.fill_id),
        quantity=row.quantity,
        price=row.price,
        commission=row.commission,
        filled_at=row.filled_at,
    )


async def _update_of(session: AsyncSession, row: OrderRow) -> OrderUpdate:
    fill = None
    if row.fill_id is not None:
        fill_row = await session.get(FillRow, row.fill_id)
        fill = _fill_of(fill_row) if fill_row is not None else None
    return OrderUpdate(
        order_id=OrderId(row.order_id),
        client_order_id=ClientOrderId(row.client_order_id),
        venue=row.venue,
        symbol=Symbol(row.symbol),
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        time_in_force=TimeInForce(row.time_in_force),
        quantity=row.quantity,
        filled_quantity=row.filled_quantity,
        average_fill_price=row.average_fill_price,
        limit_price=row.limit_price,
        stop_price=row.stop_price,
        status=OrderStatus(row.status),
        previous_status=OrderStatus(row.previous_status) if row.previous_status else None,
        fill=fill,
        decision_id=DecisionId(row.decision_id) if row.decision_id else None,
        reason=row.reason,
        sequence=row.sequence,
        updated_at=row.updated_at,
    )


class SqlOrderStore:
    """An `OrderStore` (see `atp.brokers.ports`) on the platform database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def save_update(self, update: OrderUpdate) -> bool:
        """Stores `update` if its sequence is newer; records its fill either way (once)."""
        async with self._database.session() as session:
            return await save_update_in(session, update)

    async def get(self, venue: str, client_order_id: ClientOrderId) -> OrderUpdate | None:
        """The latest stored update of one order, or None."""
        async with self._database.session() as session:
            row = await session.get(OrderRow, (venue, client_order_id))
            return await _update_of(session, row) if row is not None else None

    async def find(self, order_ref: str) -> list[OrderUpdate]:
        """Orders whose client order id or venue order id is `order_ref` (any venue)."""
        async with self._database.session() as session:
            rows = (
                await session.scalars(
                    select(OrderRow).where(
                        (OrderRow.client_order_id == order_ref) | (OrderRow.order_id == order_ref)
                    )
                )
            ).all()
            return [await _update_of(session, row) for row in rows]

    async def list_orders(
        self, *, venue: str | None = None, open_only: bool = False
    ) -> list[OrderUpdate]:
        """Latest updates of all (open) orders, oldest `updated_at` first."""
        statement = select(OrderRow)
        if venue is not None:
            statement = statement.where(OrderRow.venue == venue)
        if open_only:
            statement = statement.where(OrderRow.status.not_in(_TERMINAL))
        statement = statement.order_by(OrderRow.updated_at, OrderRow.client_order_id)
        async with self._database.session() as session:
            rows = (await session.scalars(statement)).all()
            return [await _update_of(session, row) for row in rows]

    async def record_fill(self, record: FillRecord) -> bool:
        """Stores a fill once per fill id; False if it was already stored."""
        async with self._database.session() as session:
            return await record_fill_in(session, record)

    async def fills(
        self, *, venue: str | None = None, client_order_id: ClientOrderId | None = None
    ) -> list[FillRecord]:
        """Stored fills, filtered, in `filled_at` then `fill_id` order."""
        statement = select(FillRow)
        if venue is not None:
            statement = statement.where(FillRow.venue == venue)
        if client_order_id is not None:
            statement = statement.where(FillRow.client_order_id == client_order_id)
        statement = statement.order_by(FillRow.filled_at, FillRow.fill_id)
        async with self._database.session() as session:
            rows = (await session.scalars(statement)).all()
        return [
            FillRecord(
                venue=row.venue,
                client_order_id=ClientOrderId(row.client_order_id),
                order_id=OrderId(row.order_id),
                symbol=Symbol(row.symbol),
                side=Side(row.side),
                fill=_fill_of(row),
            )
            for row in rows
        ]

    async def positions(self, *, venue: str | None = None) -> list[PositionRow]:
        """The booked positions per venue and symbol."""
        statement = select(PositionRow).order_by(PositionRow.venue, PositionRow.symbol)
        if venue is not None:
            statement = statement.where(PositionRow.venue == venue)
        async with self._database.session() as session:
            return list((await session.scalars(statement)).all())
