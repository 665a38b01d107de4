"""`reproduce --gpus-per-run N` with the local executor: each missing run executed by `accelerate
launch` (one process per GPU) in child processes, one run after another, and loaded into DuckDB.

Here, without GPUs, a run launched over one "GPU" runs under accelerate launch on the CPU: the
same job file, child process, claim, log and load as on a GPU node. What several processes do with
one run (every one trains, the main one evaluates and publishes) is tested under torchrun in
tests/test_distributed.py."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from clt_kit.cli import main
from clt_kit.cluster.jobs import launch_command
from clt_kit.layout import Layout

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ["reproduce", "--table", "3", "--scale", "smoke", "--k", "0,4", "--seed", "3"]


def _rows(db: Path) -> tuple[list, list]:
    with duckdb.connect(str(db), read_only=True) as con:
        return (con.execute("SELECT * FROM examples ORDER BY ALL").fetchall(),
                con.execute("SELECT run_id, weights_sha256, best_step FROM runs ORDER BY ALL").fetchall())


def test_the_launch_command_takes_one_process_per_gpu(tmp_path: Path) -> None:
    job = tmp_path / "job.json"
    assert launch_command(job, 0)[1:] == ["-m", "clt_kit.cli", "execute", str(job.resolve())]
    one = launch_command(job, 1)
    assert one[1:7] == ["-m", "accelerate.commands.launch", "--num_machines", "1", "--num_processes", "1"] and "--use_fsdp" not in one
    eight = launch_command(job, 8)
    assert "8" == eight[eight.index("--num_processes") + 1] and "--use_fsdp" in eight
    config = ROOT / "configs" / "accelerate" / "8gpu-fsdp.yaml"
    given = launch_command(job, 8, str(config))
    assert given[given.index("--config_file") + 1] == str(config) and "--use_fsdp" not in given


@pytest.mark.parametrize("extra, message", [
    (["--gpus-per-run", "2", "--jobs", "2"], "--jobs: with --gpus-per-run each run takes its GPUs, one run at a time"),
    (["--accelerate-config", str(ROOT / "configs" / "accelerate" / "1gpu.yaml")], "--accelerate-config: the config of runs with GPUs; add --gpus-per-run N"),
    (["--gpus-per-run", "1", "--partition", "gpu", "--sbatch-line", "--qos=high"], "--partition, --sbatch-line: Slurm options; add --executor slurm"),
])
def test_local_gpu_options_that_do_not_go_together_are_refused_before_anything_runs(tmp_path: Path, extra: list[str], message: str) -> None:
    result = CliRunner().invoke(main, [*SWEEP, "--results", str(tmp_path), *extra])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "work").exists()


@pytest.mark.slow
def test_launched_runs_are_the_local_sweeps_runs_and_a_failed_one_is_named_with_its_log(tmp_path: Path) -> None:
    launched, local = tmp_path / "launched", tmp_path / "local"
    first = CliRunner().invoke(main, [*SWEEP, "--results", str(launched), "--gpus-per-run", "1"])
    assert first.exit_code == 0, first.output
    assert "runs: 2 new, 0 reused" in first.output and (launched / "tables" / "table3.md").is_file()
    layout = Layout(launched)
    logs = sorted(layout.jobs.glob("*/launch-*.log"))
    assert len(logs) == 2 and all("clt-kit: run finished" in log.read_text() and f"output in {log}" in first.output for log in logs)
    again = CliRunner().invoke(main, [*SWEEP, "--results", str(launched), "--gpus-per-run", "1"])
    assert again.exit_code == 0 and "runs: 0 new, 2 reused" in again.output

    assert CliRunner().invoke(main, [*SWEEP, "--results", str(local)]).exit_code == 0
    launched_rows, local_rows = _rows(layout.db), _rows(Layout(local).db)
    assert len(launched_rows[1]) == 2 and launched_rows == local_rows

    # a run whose launch fails (an accelerate config it cannot read) is named with its log; nothing is loaded
    broken = tmp_path / "broken.yaml"
    broken.write_text("num_processes: [one\n")
    failing = tmp_path / "failing"
    failed = CliRunner().invoke(main, [*SWEEP, "--k", "0", "--results", str(failing), "--gpus-per-run", "1", "--accelerate-config", str(broken)])
    assert failed.exit_code == 1, failed.output
    (log,) = Layout(failing).jobs.glob("*/launch-1.log")
    assert "1 run(s) failed" in failed.output and f"its log: {log}" in failed.output
    assert "yaml" in log.read_text().lower() and log.read_text().splitlines()[-1] in failed.output  # its last lines, shown
    assert not Layout(failing).runs.exists() or not any(Layout(failing).runs.iterdir())
