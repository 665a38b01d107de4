"""The CLI: help on every command, version, clear errors with exit code 2."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from clt_kit import __version__
from clt_kit.cli import main

COMMANDS = ["world", "prep", "pretrain", "train", "eval", "reproduce", "verify", "ingest", "sql"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_prep_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id":"a","lang":"en","prompt":"p","response":"r"}\n{oops\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["prep", "--task", "MR", "--pool", str(pool), "--english", "1", "--k", "0", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert f"{pool}:2: malformed JSON" in result.output
    assert "Traceback" not in result.output


def test_world_then_prep_then_verify(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["world", "--scale", "smoke", "--seed", "3", "--out", str(tmp_path / "w")]).exit_code == 0
    args = ["prep", "--task", "SM", "--pool", str(tmp_path / "w/SM/train.jsonl"), "--test", str(tmp_path / "w/SM/test.jsonl"),
            "--english", "10", "--k", "3", "--seed", "3", "--out", str(tmp_path / "m")]
    strict = runner.invoke(main, args)
    assert strict.exit_code == 2 and f"{tmp_path / 'w/SM/train.jsonl'}:" in strict.output  # the world breaks lines on purpose
    result = runner.invoke(main, [*args, "--lenient"])
    assert result.exit_code == 0, result.output
    assert "wrong_language" in result.output and "exact_duplicate" in result.output
    result = runner.invoke(main, ["verify", str(tmp_path / "m")])
    assert result.exit_code == 0 and "verified 1 manifest" in result.output


def test_verify_of_an_empty_folder_fails(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["verify", str(tmp_path)])
    assert result.exit_code == 2 and "no manifest.json" in result.output


def test_reproduce_offers_every_figure_the_study_declares() -> None:
    from clt_kit.study import study

    params = {p.name: p for p in main.commands["reproduce"].params}
    assert sorted(params["figures"].type.choices) == sorted(str(f) for f in study().figures)
    assert {"2", "3", "6", "7", "8", "10", "11"} <= set(params["figures"].type.choices)
    assert sorted(params["tables"].type.choices) == sorted(str(t) for t in study().tables)


def test_reproduce_asks_for_a_figure_a_table_or_all(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["reproduce", "--scale", "smoke", "--results", str(tmp_path)])
    assert result.exit_code == 2 and "choose what to reproduce: --figure N, --table N (each may repeat) or --all" in result.output
    result = CliRunner().invoke(main, ["reproduce", "--table", "1", "--results", str(tmp_path)])
    assert result.exit_code == 2 and "'1' is not one of" in result.output


def test_the_paper_scale_asks_for_its_data_and_takes_real_models_only_there(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["reproduce", "--figure", "2", "--scale", "paper", "--results", str(tmp_path)])
    assert result.exit_code == 2 and "give them with --data" in result.output
    result = CliRunner().invoke(main, ["reproduce", "--figure", "2", "--scale", "mini", "--base", "7b=x", "--results", str(tmp_path)])
    assert result.exit_code == 2 and "--base: for the paper scale" in result.output
    result = CliRunner().invoke(main, ["reproduce", "--figure", "2", "--scale", "paper", "--base", "9b=x", "--dry-run"])
    assert result.exit_code == 2 and "MODEL one of 7b, 35b, 8b" in result.output
    result = CliRunner().invoke(main, ["reproduce", "--figure", "2", "--scale", "paper", "--k", "0,x", "--dry-run"])
    assert result.exit_code == 2 and "separated by commas" in result.output
    # the dry run follows the given bases and k grid: 2 models x 3 tasks x 2 k
    result = CliRunner().invoke(main, ["reproduce", "--figure", "2", "--scale", "paper", "--base", "7b=my/model", "--k", "0,100", "--dry-run"])
    assert result.exit_code == 0 and "my/model" in result.output and "12 runs" in result.output, result.output
    result = CliRunner().invoke(main, ["world", "--scale", "paper", "--out", str(tmp_path / "w")])
    assert result.exit_code != 0 and "its data comes from `clt-kit data`" in result.output


@pytest.mark.parametrize("option, value", [("--k", "-5"), ("--english", "-1"), ("--seed", "-1"), ("--threads", "-1"),
                                           ("--num-perm", "0"), ("--threshold", "1.5"), ("--minhash-seed", "-3")])
def test_prep_rejects_nonsensical_sizes(tmp_path: Path, option: str, value: str) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id":"a","lang":"en","prompt":"p","response":"r"}\n', encoding="utf-8")
    args = {"--task": "MR", "--pool": str(pool), "--english": "1", "--k": "0", "--out": str(tmp_path / "m"), option: value}
    result = CliRunner().invoke(main, ["prep", *(x for kv in args.items() for x in kv)])
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output, result.output
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("command", ["world", "reproduce", "pretrain"])
def test_every_seed_must_be_non_negative(command: str) -> None:
    args = {"world": ["--out", "w"], "reproduce": ["--figure", "2"], "pretrain": []}[command]
    result = CliRunner().invoke(main, [command, "--seed", "-1", *args])
    assert result.exit_code == 2 and "Invalid value for '--seed'" in result.output


def test_os_errors_are_one_line_naming_the_file() -> None:
    from clt_kit.cli import os_error_line

    full = OSError(28, "No space left on device", "/r/work/x.jsonl")
    try:
        try:
            raise full
        except OSError as e:
            raise RuntimeError("cannot rollback - no transaction is active") from e
    except RuntimeError as wrapped:
        line = os_error_line(wrapped)
    assert line is not None and line.startswith("no space left on the device writing /r/work/x.jsonl")
    assert os_error_line(OSError(30, "Read-only file system", "/ro/clt.duckdb")).startswith("a read-only file system writing /ro/clt.duckdb")
    assert os_error_line(ValueError("something else")) is None


@pytest.mark.parametrize(("code", "start", "fix"), [
    (errno.EPERM, "operation not permitted on /r/clt.duckdb", "chattr -i"),
    (errno.EACCES, "permission denied on /r/clt.duckdb", "chmod"),
    (errno.ENOTDIR, "not a folder: /r/clt.duckdb", "a file stands where a folder is needed"),
    (errno.EEXIST, "a file is in the way of a folder: /r/clt.duckdb", "move the file"),
    (errno.EISDIR, "a folder where a file is expected: /r/clt.duckdb", "move the folder"),
    (errno.ENOENT, "no such file or folder: /r/clt.duckdb", "check the path"),
    (errno.EROFS, "a read-only file system writing /r/clt.duckdb", "--results"),
    (errno.ENOSPC, "no space left on the device writing /r/clt.duckdb", "free space"),
])
def test_os_errors_are_told_apart_by_errno_also_from_duckdb(code: int, start: str, fix: str) -> None:
    """By the error's class (errno), whatever its message says; DuckDB's IOException carries the
    system's words for the errno, after the file's name."""
    import duckdb

    from clt_kit.cli import os_error_line

    for error in (OSError(code, "whatever the message", "/r/clt.duckdb"),
                  duckdb.IOException(f'IO Error: Cannot open file "/r/clt.duckdb": {os.strerror(code)}')):
        line = os_error_line(error)
        assert line is not None and line.startswith(start) and fix in line and "\n" not in line, (error, line)


def test_a_duckdb_file_that_is_no_database_and_a_file_not_utf8_are_one_line() -> None:
    import duckdb

    from clt_kit.cli import os_error_line

    line = os_error_line(duckdb.IOException('IO Error: The file "/r/clt.duckdb" exists, but it is not a valid DuckDB database file!'))
    assert line is not None and line.startswith("the DuckDB file /r/clt.duckdb cannot be used") and "clt-kit ingest" in line
    assert (os_error_line(UnicodeDecodeError("utf-8", b"a\xff", 1, 2, "invalid start byte"))
            or "").startswith("a file is not UTF-8")
    assert os_error_line(duckdb.BinderException("Binder Error: no such column")) is None  # the kit's own SQL: a bug, not the machine


RESULTS_COMMANDS = [["reproduce", "--figure", "2", "--scale", "smoke"], ["status"], ["ingest"], ["sql", "SELECT 1"], ["claims"],
                    ["pretrain", "--scale", "smoke"], ["resubmit", "0000000000000000"]]


@pytest.mark.parametrize("args", RESULTS_COMMANDS, ids=lambda a: a[0])
def test_results_naming_a_file_is_one_line_for_every_command(tmp_path: Path, args: list[str]) -> None:
    a_file = tmp_path / "results.txt"
    a_file.write_text("mine", encoding="utf-8")
    for results in (a_file, a_file / "inside"):
        result = CliRunner().invoke(main, [*args, "--results", str(results)])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert result.output.strip().splitlines() == [f"error: --results {results}: {a_file} is a file, not a folder; pass --results a folder (or a new name)"]
    assert a_file.read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("args", [["world", "--scale", "smoke"], ["prep", "--task", "SM", "--english", "1", "--k", "0", "--pool", "POOL"]],
                         ids=lambda a: a[0])
def test_out_naming_a_file_is_one_line_and_the_file_kept(tmp_path: Path, args: list[str]) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id":"a","lang":"en","prompt":"p","response":"r"}\n', encoding="utf-8")
    a_file = tmp_path / "out.txt"
    a_file.write_text("mine", encoding="utf-8")
    for out in (a_file, a_file / "inside"):
        result = CliRunner().invoke(main, [*[str(pool) if a == "POOL" else a for a in args], "--out", str(out)])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and f": {a_file} (" in errors[0] and "--out" in errors[0], result.output
    assert a_file.read_text(encoding="utf-8") == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "pool.jsonl"]


@pytest.mark.parametrize("query", ["", " ; ", ";", "  \n"])
def test_sql_without_a_query_is_one_line(tmp_path: Path, query: str) -> None:
    from clt_kit.results import db

    with db.connect(tmp_path / "clt.duckdb"):
        pass
    result = CliRunner().invoke(main, ["sql", "--results", str(tmp_path), "--", query])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "no query to run" in result.output, result.output
    assert result.output.count("\n") == 1


def test_verify_names_a_manifest_that_is_not_utf8(tmp_path: Path) -> None:
    manifest = tmp_path / "m" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_bytes(b'{"kind": "caf\xe9"}')
    for path in (manifest, manifest.parent):
        result = CliRunner().invoke(main, ["verify", str(path)])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert f"problem: {manifest}: not UTF-8" in result.output


def test_progress_bars_are_cleared_before_an_error_line() -> None:
    from tqdm import tqdm

    from clt_kit.cli import _clear_progress_bars

    bar = tqdm(total=10, desc="prep", leave=True)
    bar.update(3)
    _clear_progress_bars()
    assert bar.disable or bar not in getattr(tqdm, "_instances", set())


def test_sql_is_read_only_in_fact(tmp_path: Path) -> None:
    from clt_kit.results import db

    with db.connect(tmp_path / "clt.duckdb"):
        pass
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n", encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(main, ["sql", "SELECT count(*) AS n FROM paper_reference", "--results", str(tmp_path)])
    assert ok.exit_code == 0 and ok.output.splitlines()[0] == "n"
    for query in [f"COPY paper_reference TO '{tmp_path / 'out.csv'}'", f"SELECT * FROM read_csv('{outside}')",
                  f"ATTACH '{tmp_path / 'other.duckdb'}' AS other", "INSTALL httpfs", "SET enable_external_access = true",
                  "CREATE TABLE mine (a INTEGER)", "DELETE FROM paper_reference", f"SELECT * FROM glob('{tmp_path}/*')"]:
        result = runner.invoke(main, ["sql", query, "--results", str(tmp_path)])
        assert result.exit_code == 2 and result.output.startswith("error: "), (query, result.output)
        assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clt.duckdb", "secret.csv"]
