"""`atp backtest run`: a backtest in this process, with a progress bar and a summary table.

    atp backtest run --data AAPL.csv --symbol AAPL --strategy sma_crossover \\
        --param fast=10 --param slow=30 --initial-balance 100000

Several `--data`/`--symbol` pairs and several `--strategy` are allowed (a symbol may be named
without `--data`: its file is then found in the data folder). `--param k=v` goes to every
requested strategy that has a parameter `k` (a `k` none has is refused); `--param
sma_crossover.k=v` to one. `--json` prints the full result (final_equity, metrics, fills,
equity curve, comparison).
`--commission 0 --slippage 0` switch trading costs off (defaults: 1 bp commission, 5 bps
slippage). The numbers equal those of `POST /backtest/start` for the same request.

Bad input is refused before the run, as the API refuses it: a parameter no requested strategy
has, an `--out` whose folder does not exist, a value out of range. Each problem is one line on
stderr, `atp backtest: <option> <value>: <reason>`, and the exit code is 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from atp.backtest.model import (
    DATE_ORDER_ERROR,
    DEFAULT_COMMISSION_BPS,
    DEFAULT_SLIPPAGE_BPS,
    BacktestRequest,
)
from atp.backtest.results import comparison_table, outcome_dict, results_json
from atp.backtest.runner import run_backtest
from atp.backtest.wiring import STRATEGIES
from atp.core.errors import AtpError, InvalidInput
from atp.marketdata.catalog import find_data_file, load_bars
from atp.services.settings import AtpSettings

# The option that sets each request field, so a refusal names what the user typed.
_OPTION = {
    "start_date": "--start",
    "end_date": "--end",
    "symbols": "--symbol",
    "strategies": "--strategy",
    "initial_balance": "--initial-balance",
    "voting_strategy": "--voting",
    "compare_voting_strategies": "--compare-voting",
    "params": "--param",
    "seed": "--seed",
    "commission_bps": "--commission",
    "slippage_bps": "--slippage",
    "sizing": "--sizing",
    "warmup_bars": "--warmup-bars",
    "data_files": "--data",
}


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
    run.add_argument("--initial-balance", type=_decimal, default=Decimal(100_000))
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


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None


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
            raise InvalidInput(f"--param: expected k=v, found {pair!r}")
        target, dot, name = key.rpartition(".")
        if dot:
            # An unknown or unrequested strategy is refused by the request's validation.
            wanted = [target]
        else:
            wanted = [s for s in strategies if name in _params_of(s)]
            # A parameter none of them has goes to all, to be refused as the API refuses it.
            wanted = wanted or strategies
        for strategy in wanted:
            params.setdefault(strategy, {})[name] = _value(raw)
    return params


def _params_of(strategy: str) -> set[str]:
    cls = STRATEGIES.get(strategy)
    return set() if cls is None else set(cls.Params.model_fields)


def build_request(args: argparse.Namespace, settings: AtpSettings) -> BacktestRequest:
    """The request the CLI arguments describe (the same model the HTTP API takes).

    Raises:
        InvalidInput: the arguments describe no valid request; one line per problem, each
            naming the option, what was given and why it is refused.
    """
    files: dict[str, str] = {}
    symbols = [s.upper() for s in args.symbol]
    for index, data in enumerate(args.data):
        symbol = symbols[index] if index < len(symbols) else load_bars(data).symbol
        if index >= len(symbols):
            symbols.append(symbol)
        files[symbol] = str(Path(data).resolve())
    if not symbols:
        raise InvalidInput("give at least one --data file or --symbol")
    strategies = args.strategy or ["sma_crossover"]
    start, end = args.start, args.end
    if start is None or end is None:
        spans = [
            load_bars(
                files.get(s) or find_data_file(settings.data_dir, s), symbol=s, match_symbol=True
            ).bars
            for s in symbols
        ]
        start = start or min(b[0].timestamp for b in spans).isoformat()
        end = end or max(b[-1].timestamp for b in spans).isoformat()
    body = {
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
    try:
        return BacktestRequest.model_validate(body)
    except ValidationError as exc:
        problems = [_problem(error, args) for error in exc.errors()]
        raise InvalidInput("\n".join(problems)) from None


def _problem(error: ErrorDetails, args: argparse.Namespace) -> str:
    """One refusal as a line: the option, the value given, the reason (no pydantic jargon)."""
    if error["type"] == DATE_ORDER_ERROR:
        # A bound not given was taken from the data: the other one lies outside the data.
        context = error.get("ctx") or {}
        if args.end is None:
            return f"--start {args.start}: after the data's last bar ({context.get('end')})"
        if args.start is None:
            return f"--end {args.end}: before the data's first bar ({context.get('start')})"
        return f"--end {args.end}: before --start {args.start}"
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:
        return message
    option = _OPTION.get(str(error["loc"][0]), str(error["loc"][0]))
    value = error.get("input")
    if isinstance(value, str | int | float | Decimal):
        option = f"{option} {value}"
    return f"{option}: {message}"


def _check_out(out: Path | None) -> None:
    """Refuses an --out path that cannot be written, before the run spends its time."""
    if out is None:
        return
    folder = out.parent
    if out.is_dir():
        raise InvalidInput(f"--out {out}: is a folder; expected the path of a file")
    if not folder.is_dir():
        raise InvalidInput(f"--out {out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise InvalidInput(f"--out {out}: not writable (permission denied)")


def _bar(percent: float) -> None:
    filled = int(percent / 2.5)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (40 - filled)}] {percent:5.1f}%")
    sys.stderr.flush()


def _refuse(exc: Exception) -> int:
    for line in str(exc).splitlines() or [type(exc).__name__]:
        print(f"atp backtest: {line}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    settings = AtpSettings()
    # A progress bar only where someone watches it: not in --json output or a log file.
    show_progress = not args.json and sys.stderr.isatty()
    drawn = False

    def progress(percent: float) -> None:
        nonlocal drawn
        drawn = True
        _bar(percent)

    try:
        _check_out(args.out)
        request = build_request(args, settings)
        outcome = run_backtest(
            request, settings.data_dir, progress=progress if show_progress else None
        )
    except (AtpError, ValueError) as exc:
        if drawn:
            sys.stderr.write("\n")  # end the progress bar's line
        return _refuse(exc)
    if drawn:
        sys.stderr.write("\n")
    code = 0
    if args.out is not None:
        try:
            args.out.write_text(results_json(outcome), encoding="utf-8")
        except OSError as exc:
            # Still print the results below: the run's work is not lost with the file.
            code = _refuse(InvalidInput(f"--out {args.out}: not written: {exc.strerror or exc}"))
    if args.json:
        print(json.dumps(outcome_dict(outcome), indent=1, sort_keys=True))
        return code
    main = outcome.main
    print(
        f"{', '.join(request.symbols)} {request.start_date.date()}..{request.end_date.date()}"
        f" · {outcome.bars} bars · {len(main.fills)} fills · final equity "
        f"{main.final_equity:.2f} · costs {request.commission_bps} bps commission, "
        f"{request.slippage_bps} bps slippage"
    )
    print(comparison_table(outcome))
    return code
