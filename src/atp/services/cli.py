"""The `atp` command: run the platform, one service, a backtest, or audit checks.

atp up                      every service, on the embedded defaults unless configured
atp serve <service>         one service (market-data, agents, meta-agent, ...)
atp backtest run ...        a backtest in this process (see `atp backtest run --help`)
atp audit verify|trace|...  the audit trail
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from atp.core.errors import ConfigurationError
from atp.services.catalog import BY_NAME
from atp.services.settings import AtpSettings

# Subcommand groups owned by their areas; each module exposes `register(subparsers)`.
_GROUPS = ("atp.services.cli_backtest", "atp.services.cli_audit")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `atp`."""
    parser = argparse.ArgumentParser(prog="atp", description="ATP, the agentic trading platform")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the whole platform until Ctrl-C")
    up.set_defaults(handler=_run_up)
    serve = commands.add_parser("serve", help="run one service until Ctrl-C")
    serve.add_argument("service", choices=sorted(BY_NAME))
    serve.set_defaults(handler=_run_serve)
    for module_name in _GROUPS:
        if importlib.util.find_spec(module_name) is not None:
            importlib.import_module(module_name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `atp` command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigurationError as exc:
        print(f"atp: configuration error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        # Settings read from the environment (ATP_...): one line per bad value. The value is
        # not echoed, as it may be a secret.
        for error in exc.errors():
            field = ".".join(map(str, error["loc"]))
            print(f"atp: configuration error: {exc.title} {field}: {error['msg']}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _run_up(_args: argparse.Namespace) -> int:
    from atp.services.launcher import run_platform

    return asyncio.run(run_platform(AtpSettings()))


def _run_serve(args: argparse.Namespace) -> int:
    from atp.services.embedded_nats import EmbeddedNats
    from atp.services.runtime import configure_logging, serve

    settings = AtpSettings()
    configure_logging(settings)
    entry = BY_NAME[args.service]
    embedded = None
    if settings.uses_embedded_nats:
        # Run alone: reuse the platform's embedded server, or start it if none answers.
        embedded = EmbeddedNats(
            store_dir=settings.var_dir / "nats", port=settings.embedded_nats_port
        )
        embedded.start()
    try:
        module: Any = importlib.import_module(entry.module)

        async def run() -> None:
            service = await module.bootstrap(settings)
            await serve(service, settings)

        asyncio.run(run())
    finally:
        if embedded is not None:
            embedded.stop()
    return 0
