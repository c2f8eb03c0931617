"""`atp audit ...`: verify the chain, trace an order, query entries, from the command line.

atp audit verify                       exit 0 if the chain holds, 1 naming the first break
atp audit trace <order id>             the causal chain of one order
atp audit query [--type T] [--symbol S] [--agent A] [--order O] [--since T] [--until T]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime

from atp.core.clock import ensure_utc
from atp.core.errors import NotFound
from atp.services.settings import AtpSettings
from atp.storage.audit_trail import MAX_PAGE, AuditQuery, AuditTrail
from atp.storage.database import Database, migrate
from atp.storage.trace import trace_order


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds the `audit` command group to the `atp` parser."""
    audit = subparsers.add_parser("audit", help="verify, trace and query the audit trail")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = commands.add_parser("verify", help="check the whole hash chain")
    verify.set_defaults(handler=_handler(_verify), audit_run=_verify)
    trace = commands.add_parser("trace", help="the causal chain of one order")
    trace.add_argument("order_id", help="client order id or venue order id")
    trace.add_argument("--json", action="store_true", help="print the steps as JSON")
    trace.set_defaults(handler=_handler(_trace), audit_run=_trace)
    query = commands.add_parser("query", help="list entries matching every filter")
    query.add_argument("--type", dest="kind", help="event type, e.g. decisions.meta")
    query.add_argument("--symbol")
    query.add_argument("--agent")
    query.add_argument("--order", help="client order id or venue order id")
    query.add_argument("--since", type=_moment, help="event time from (ISO 8601 with zone)")
    query.add_argument("--until", type=_moment, help="event time until (exclusive)")
    query.add_argument("--limit", type=int, default=100)
    query.set_defaults(handler=_handler(_query), audit_run=_query)


def _moment(value: str) -> datetime:
    try:
        return ensure_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, Exception) as exc:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time with a zone: {exc}") from exc


Command = Callable[[AuditTrail, argparse.Namespace], Awaitable[int]]


def _handler(command: Command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return asyncio.run(run_command(command, args, AtpSettings()))

    return run


async def run_command(command: Command, args: argparse.Namespace, settings: AtpSettings) -> int:
    """Runs one audit command against the configured database; returns the exit code."""
    url = settings.effective_database_url
    await migrate(url)
    database = Database(url)
    try:
        return await command(AuditTrail(database), args)
    finally:
        await database.close()


async def _verify(trail: AuditTrail, _args: argparse.Namespace) -> int:
    report = await trail.verify()
    if report.problem is None:
        print(f"ok: {report.entries_checked} entries, head {report.head_hash[:16]}")
        return 0
    problem = report.problem
    print(f"BROKEN at entry {problem.sequence} ({problem.kind}): {problem.message}")
    return 1


async def _trace(trail: AuditTrail, args: argparse.Namespace) -> int:
    try:
        trace = await trace_order(trail, args.order_id)
    except NotFound as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.json:
        steps = [
            {
                "stage": s.stage,
                "event_id": s.event_id,
                "time": s.event_time.isoformat(),
                "summary": s.summary,
            }
            for s in trace.steps
        ]
        print(json.dumps({"order": trace.order_ref, "steps": steps}, indent=2))
    else:
        print(trace.render())
    return 0


async def _query(trail: AuditTrail, args: argparse.Namespace) -> int:
    entries = await trail.query(
        AuditQuery(
            since=args.since,
            until=args.until,
            kind=args.kind,
            symbol=args.symbol,
            agent=args.agent,
            order=args.order,
            limit=max(1, min(args.limit, MAX_PAGE)),
        )
    )
    for entry in entries:
        refs = " ".join(
            f"{name}={value}"
            for name, value in (
                ("symbol", entry.symbol),
                ("agent", entry.agent_id),
                ("order", entry.order_ref),
            )
            if value
        )
        print(f"{entry.sequence:>8} {entry.event_time.isoformat()} {entry.kind} {refs}".rstrip())
    return 0
