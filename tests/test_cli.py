"""The CLI: help on every command, version, clear errors with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from clt_kit import __version__
from clt_kit.cli import main

COMMANDS = ["world", "prep", "pretrain", "train", "eval", "reproduce", "verify", "sql"]


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


def test_reproduce_offers_every_figure_the_library_draws() -> None:
    from clt_kit.results.figures import FIGURES

    option = next(p for p in main.commands["reproduce"].params if p.name == "figure")
    assert sorted(option.type.choices) == sorted(str(f) for f in FIGURES)
