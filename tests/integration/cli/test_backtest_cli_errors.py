"""`atp backtest run` refuses bad input as the API does: one line per problem, exit code 2.

Each refusal is `atp backtest: <option> <value>: <reason>` on stderr: no traceback, no pydantic
report, nothing on stdout, and nothing run or written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atp.services.cli import main as atp_main
from atp.services.settings import DEFAULT_DATA_DIR

PAIRS = DEFAULT_DATA_DIR / "pairs_trading_system"
JANUARY = ["--start", "2024-01-01", "--end", "2024-01-31"]


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """Runs `atp backtest run argv`; the stderr lines of its refusal (asserted to be one)."""
    code = atp_main(["backtest", "run", *argv])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines and all(line.startswith("atp backtest: ") for line in lines), lines
    assert "pydantic" not in captured.err and "Traceback" not in captured.err
    return [line.removeprefix("atp backtest: ") for line in lines]


def test_an_unknown_param_is_refused_with_the_apis_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    aapl = ["--data", str(PAIRS / "AAPL.csv"), *JANUARY]
    assert _refused(capsys, *aapl, "--param", "nosuch=1") == [
        "sma_crossover parameters: nosuch: Extra inputs are not permitted"
    ]
    assert _refused(capsys, *aapl, "--param", "momentum.lookback=5") == [
        "params: 'momentum' is not one of the requested strategies"
    ]


def test_an_out_path_in_a_missing_folder_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nonexistent" / "results.json"
    # NOPE1 has no data: the --out refusal comes first, so nothing was loaded or run.
    assert _refused(capsys, "--symbol", "NOPE1", "--out", str(out)) == [
        f"--out {out}: the folder {out.parent} does not exist"
    ]
    assert _refused(capsys, "--symbol", "NOPE1", "--out", str(tmp_path)) == [
        f"--out {tmp_path}: is a folder; expected the path of a file"
    ]
    assert not out.parent.exists()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--initial-balance", "-5"], ["--initial-balance -5: Input should be greater than 0"]),
        (["--commission", "-1"], ["--commission -1.0: Input should be greater than or equal to 0"]),
        (
            ["--initial-balance", "0", "--seed", "-1"],
            [
                "--initial-balance 0: Input should be greater than 0",
                "--seed -1: Input should be greater than or equal to 0",
            ],
        ),
        (["--end", "2023-12-01"], ["--end 2023-12-01: before --start 2024-01-01"]),
        (
            ["--strategy", "momentum", "--strategy", "momentum"],
            ["--strategy: strategies must be unique, found 'momentum' more than once"],
        ),
    ],
)
def test_each_invalid_value_is_one_line_naming_option_value_and_reason(
    capsys: pytest.CaptureFixture[str], options: list[str], expected: list[str]
) -> None:
    assert _refused(capsys, "--data", str(PAIRS / "AAPL.csv"), *JANUARY, *options) == expected


def test_a_start_after_the_data_names_the_datas_last_bar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _refused(capsys, "--data", str(PAIRS / "AAPL.csv"), "--start", "2030-01-01") == [
        "--start 2030-01-01: after the data's last bar (2025-01-17T05:00:00+00:00)"
    ]


def test_a_balance_that_is_not_a_number_is_an_argument_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        atp_main(["backtest", "run", "--symbol", "AAPL", "--initial-balance", "abc"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --initial-balance: expected a number, found 'abc'" in err
    assert "Traceback" not in err


def test_a_data_file_of_another_symbol_is_refused_naming_file_line_and_both(
    capsys: pytest.CaptureFixture[str],
) -> None:
    msft = PAIRS / "MSFT.csv"
    assert _refused(capsys, "--data", str(msft), "--symbol", "AAPL", *JANUARY) == [
        f"{msft.resolve()}: line 2, column 'Symbol': expected the requested symbol AAPL, "
        "found 'MSFT' (the file holds another symbol's bars)"
    ]


def test_a_valid_out_path_gets_the_results_printed_with_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    argv = ["--data", str(PAIRS / "AAPL.csv"), *JANUARY, "--out", str(out), "--json"]
    assert atp_main(["backtest", "run", *argv]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert json.loads(out.read_text()) == json.loads(captured.out)


def test_a_bad_setting_in_the_environment_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATP_EMBEDDED_NATS_PORT", "abc")
    assert atp_main(["backtest", "run", "--symbol", "AAPL"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "atp: configuration error: AtpSettings embedded_nats_port: Input should be a valid "
        "integer, unable to parse string as an integer"
    ]
