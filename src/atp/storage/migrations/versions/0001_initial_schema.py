"""Initial schema: orders, fills, positions, decisions, violations, runs, actions, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 08:58:25.897617
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atp.storage.types import ExactDecimal, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Applies this revision."""
    op.create_table(
        "audit_entries",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("event_time", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("correlation_id", sa.String(length=80), nullable=True),
        sa.Column("causation_id", sa.String(length=80), nullable=True),
        sa.Column("symbol", sa.String(length=40), nullable=True),
        sa.Column("agent_id", sa.String(length=80), nullable=True),
        sa.Column("order_ref", sa.String(length=80), nullable=True),
        sa.Column("decision_id", sa.String(length=80), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_audit_entries")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_entries_event_id")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_entries_hash")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_entries_correlation_id"), ["correlation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_entries_decision_id"), ["decision_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_entries_event_time"), ["event_time"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_entries_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entries_order_ref"), ["order_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entries_symbol"), ["symbol"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_refs",
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("sequence", "kind", "value", name=op.f("pk_audit_refs")),
    )
    with op.batch_alter_table("audit_refs", schema=None) as batch_op:
        batch_op.create_index("ix_audit_refs_kind_value", ["kind", "value"], unique=False)

    op.create_table(
        "backtest_runs",
        sa.Column("run_id", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("symbols", sa.Text(), nullable=False),
        sa.Column("strategies", sa.Text(), nullable=False),
        sa.Column("voting_strategy", sa.String(length=40), nullable=False),
        sa.Column("start_date", UtcDateTime(), nullable=True),
        sa.Column("end_date", UtcDateTime(), nullable=True),
        sa.Column("initial_balance", ExactDecimal(), nullable=False),
        sa.Column("final_equity", ExactDecimal(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("num_trades", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_backtest_runs")),
    )
    with op.batch_alter_table("backtest_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_backtest_runs_finished_at"), ["finished_at"], unique=False
        )

    op.create_table(
        "control_actions",
        sa.Column("action_id", sa.String(length=80), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_control_actions")),
    )
    with op.batch_alter_table("control_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_control_actions_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_control_actions_occurred_at"), ["occurred_at"], unique=False
        )

    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(length=80), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("signal_id", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("order_type", sa.String(length=16), nullable=False),
        sa.Column("limit_price", ExactDecimal(), nullable=True),
        sa.Column("reference_price", ExactDecimal(), nullable=False),
        sa.Column("voting_strategy", sa.String(length=40), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("tally", sa.Text(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("quorum", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("risk_checks", sa.Text(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("trading_state", sa.String(length=16), nullable=False),
        sa.Column("client_order_id", sa.String(length=80), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_decisions")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decisions_client_order_id"), ["client_order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_decisions_decided_at"), ["decided_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_decisions_symbol"), ["symbol"], unique=False)

    op.create_table(
        "fills",
        sa.Column("fill_id", sa.String(length=120), nullable=False),
        sa.Column("venue", sa.String(length=40), nullable=False),
        sa.Column("client_order_id", sa.String(length=80), nullable=False),
        sa.Column("order_id", sa.String(length=120), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("commission", ExactDecimal(), nullable=False),
        sa.Column("filled_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("fill_id", name=op.f("pk_fills")),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fills_client_order_id"), ["client_order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fills_symbol"), ["symbol"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("venue", sa.String(length=40), nullable=False),
        sa.Column("client_order_id", sa.String(length=80), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("previous_status", sa.String(length=20), nullable=True),
        sa.Column("filled_quantity", ExactDecimal(), nullable=False),
        sa.Column("fill_id", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
        sa.UniqueConstraint(
            "venue",
            "client_order_id",
            "sequence",
            name=op.f("uq_order_events_venue_client_order_id_sequence"),
        ),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_events_client_order_id"), ["client_order_id"], unique=False
        )

    op.create_table(
        "orders",
        sa.Column("venue", sa.String(length=40), nullable=False),
        sa.Column("client_order_id", sa.String(length=80), nullable=False),
        sa.Column("order_id", sa.String(length=120), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("order_type", sa.String(length=16), nullable=False),
        sa.Column("time_in_force", sa.String(length=8), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("filled_quantity", ExactDecimal(), nullable=False),
        sa.Column("average_fill_price", ExactDecimal(), nullable=True),
        sa.Column("limit_price", ExactDecimal(), nullable=True),
        sa.Column("stop_price", ExactDecimal(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("previous_status", sa.String(length=20), nullable=True),
        sa.Column("decision_id", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("fill_id", sa.String(length=120), nullable=True),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("venue", "client_order_id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_decision_id"), ["decision_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_symbol"), ["symbol"], unique=False)

    op.create_table(
        "positions",
        sa.Column("venue", sa.String(length=40), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("average_cost", ExactDecimal(), nullable=False),
        sa.Column("realized_pnl", ExactDecimal(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("venue", "symbol", name=op.f("pk_positions")),
    )
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=80), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "risk_violations",
        sa.Column("violation_id", sa.String(length=80), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=True),
        sa.Column("agent_id", sa.String(length=80), nullable=True),
        sa.Column("decision_id", sa.String(length=80), nullable=True),
        sa.Column("client_order_id", sa.String(length=80), nullable=True),
        sa.Column("limit", ExactDecimal(), nullable=True),
        sa.Column("observed", ExactDecimal(), nullable=True),
        sa.Column("action_taken", sa.String(length=60), nullable=False),
        sa.Column("trading_state", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("violation_id", name=op.f("pk_risk_violations")),
    )
    with op.batch_alter_table("risk_violations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_risk_violations_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_risk_violations_rule"), ["rule"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_violations_symbol"), ["symbol"], unique=False)

    op.create_table(
        "decision_votes",
        sa.Column("decision_id", sa.String(length=80), nullable=False),
        sa.Column("agent_id", sa.String(length=80), nullable=False),
        sa.Column("vote", sa.String(length=16), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("intent_id", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.decision_id"],
            name=op.f("fk_decision_votes_decision_id_decisions"),
        ),
        sa.PrimaryKeyConstraint("decision_id", "agent_id", name=op.f("pk_decision_votes")),
    )
    # The chain starts empty: sequence 0 and the genesis hash (64 zeros).
    op.bulk_insert(
        sa.table(
            "audit_head",
            sa.column("id", sa.Integer()),
            sa.column("sequence", sa.BigInteger()),
            sa.column("hash", sa.String()),
        ),
        [{"id": 1, "sequence": 0, "hash": "0" * 64}],
    )


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_table("decision_votes")
    with op.batch_alter_table("risk_violations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_violations_symbol"))
        batch_op.drop_index(batch_op.f("ix_risk_violations_rule"))
        batch_op.drop_index(batch_op.f("ix_risk_violations_occurred_at"))

    op.drop_table("risk_violations")
    op.drop_table("processed_events")
    op.drop_table("positions")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_symbol"))
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index(batch_op.f("ix_orders_order_id"))
        batch_op.drop_index(batch_op.f("ix_orders_decision_id"))

    op.drop_table("orders")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_client_order_id"))

    op.drop_table("order_events")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_symbol"))
        batch_op.drop_index(batch_op.f("ix_fills_client_order_id"))

    op.drop_table("fills")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_symbol"))
        batch_op.drop_index(batch_op.f("ix_decisions_decided_at"))
        batch_op.drop_index(batch_op.f("ix_decisions_client_order_id"))

    op.drop_table("decisions")
    with op.batch_alter_table("control_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_control_actions_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_control_actions_action"))

    op.drop_table("control_actions")
    with op.batch_alter_table("backtest_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backtest_runs_finished_at"))

    op.drop_table("backtest_runs")
    with op.batch_alter_table("audit_refs", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_refs_kind_value")

    op.drop_table("audit_refs")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_symbol"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_order_ref"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_kind"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_event_time"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_decision_id"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_correlation_id"))

    op.drop_table("audit_entries")
