"""`atp backtest run`: a backtest in this process, with a progress bar and a summary table.

    atp backtest run --data AAPL.csv --symbol AAPL --strategy sma_crossover \\
        --param fast=10 --param slow=30 --initial-balance 100000

Several `--data`/`--symbol` pairs and several `--strategy` are allowed (a symbol may be named
without `--data`: its file is then found in the data folder). `--param k=v` goes to every
requested strategy that has a parameter `k`; `--param sma_crossover.k=v` to one. `--json`
prints the full result (final_equity, metrics, fills, equity curve, comparison).
`--commission 0 --slippage 0` switch trading costs off (defaults: 1 bp commission, 5 bps
slippage). The numbers equal those of `POST /backtest/start` for the same request.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from atp.backtest.model import DEFAULT_COMMISSION_BPS, DEFAULT_SLIPPAGE_BPS, BacktestRequest
from atp.backtest.results import comparison_table, outcome_dict, results_json
from atp.backtest.runner import run_backtest
from atp.backtest.wiring import STRATEGIES
from atp.core.errors import AtpError
from atp.marketdata.catalog import find_data_file, load_bars
from atp.services.settings import AtpSettings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds the `backtest` command group to the `atp` parser."""
    group = subparsers.add_parser("backtest", help="run backtests")
    commands = group.add_subparsers(dest="backtest_command", required=True)
    run = commands.add_parser("run", help="run a backtest in this process")
    run.add_argument("--data", action="append", default=[], help="bar file (CSV); repeatable")
    run.add_argument("--symbol", action="append", default=[], help="symbol; repeatable")
    run.add_argument(
        "--strategy", action="append", default=[], help=f"one of {', '.join(STRATEGIES)}"
    )
    run.add_argument("--param", action="append", default=[], help="k=v or strategy.k=v")
    run.add_argument("--initial-balance", type=Decimal, default=Decimal(100_000))
    run.add_argument("--start", help="first traded date (default: the data's first bar)")
    run.add_argument("--end", help="last traded date (default: the data's last bar)")
    run.add_argument("--voting", default="majority", help="voting strategy")
    run.add_argument("--compare-voting", action="append", default=[], help="also run these")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--commission", type=float, default=DEFAULT_COMMISSION_BPS, help="bps")
    run.add_argument("--slippage", type=float, default=DEFAULT_SLIPPAGE_BPS, help="bps")
    run.add_argument("--sizing", choices=["equal_weight", "all_in"], default="equal_weight")
    run.add_argument("--warmup-bars", type=int, default=None)
    run.add_argument("--json", action="store_true", help="print the full result as JSON")
    run.add_argument("--out", type=Path, help="also write results.json to this file")
    run.set_defaults(handler=_run)


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _params(pairs: list[str], strategies: list[str]) -> dict[str, dict[str, Any]]:
    params: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise AtpError(f"--param: expected k=v, found {pair!r}")
        target, dot, name = key.rpartition(".")
        wanted = [target] if dot else strategies
        for strategy in wanted:
            cls = STRATEGIES.get(strategy)
            if cls is not None and (dot or name in cls.Params.model_fields):
                params.setdefault(strategy, {})[name] = _value(raw)
    return params


def build_request(args: argparse.Namespace, settings: AtpSettings) -> BacktestRequest:
    """The request the CLI arguments describe (the same model the HTTP API takes)."""
    files: dict[str, str] = {}
    symbols = [s.upper() for s in args.symbol]
    for index, data in enumerate(args.data):
        symbol = symbols[index] if index < len(symbols) else load_bars(data).symbol
        if index >= len(symbols):
            symbols.append(symbol)
        files[symbol] = str(Path(data).resolve())
    if not symbols:
        raise AtpError("give at least one --data file or --symbol")
    strategies = args.strategy or ["sma_crossover"]
    start, end = args.start, args.end
    if start is None or end is None:
        spans = [
            load_bars(files.get(s) or find_data_file(settings.data_dir, s), symbol=s).bars
            for s in symbols
        ]
        start = start or min(b[0].timestamp for b in spans).isoformat()
        end = end or max(b[-1].timestamp for b in spans).isoformat()
    return BacktestRequest.model_validate(
        {
            "start_date": start,
            "end_date": end,
            "symbols": symbols,
            "strategies": strategies,
            "initial_balance": args.initial_balance,
            "voting_strategy": args.voting,
            "compare_voting_strategies": args.compare_voting,
            "params": _params(args.param, strategies),
            "seed": args.seed,
            "commission_bps": args.commission,
            "slippage_bps": args.slippage,
            "sizing": args.sizing,
            "warmup_bars": args.warmup_bars,
            "data_files": files,
        }
    )


def _bar(percent: float) -> None:
    filled = int(percent / 2.5)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (40 - filled)}] {percent:5.1f}%")
    sys.stderr.flush()


def _run(args: argparse.Namespace) -> int:
    settings = AtpSettings()
    try:
        request = build_request(args, settings)
        # A progress bar only where someone watches it: not in --json output or a log file.
        show_progress = not args.json and sys.stderr.isatty()
        outcome = run_backtest(request, settings.data_dir, progress=_bar if show_progress else None)
    except (AtpError, InvalidOperation, ValueError) as exc:
        print(f"\natp backtest: {exc}", file=sys.stderr)
        return 2
    if args.out is not None:
        args.out.write_text(results_json(outcome), encoding="utf-8")
    if args.json:
        print(json.dumps(outcome_dict(outcome), indent=1, sort_keys=True))
        return 0
    if show_progress:
        sys.stderr.write("\n")
    main = outcome.main
    print(
        f"{', '.join(request.symbols)} {request.start_date.date()}..{request.end_date.date()}"
        f" · {outcome.bars} bars · {len(main.fills)} fills · final equity "
        f"{main.final_equity:.2f} · costs {request.commission_bps} bps commission, "
        f"{request.slippage_bps} bps slippage"
    )
    print(comparison_table(outcome))
    return 0
