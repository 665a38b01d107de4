"""The Slurm executor: job files, job scripts and options (no cluster needed), and a smoke sweep
through a real one-node Slurm cluster started by the test (tests/slurm_cluster.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from clt_kit.cli import main
from clt_kit.cluster import slurm
from clt_kit.cluster.jobs import JOB_FILE, execute_job, read_job, write_job
from clt_kit.evaluate.judge import Judge
from clt_kit.jsonio import InputError, read_json, write_json
from clt_kit.layout import Layout
from clt_kit.pipeline import PreparedRun, RunPlan, Setup, execute, prepare
from clt_kit.results import runs as run_store
from clt_kit.scales import SMOKE
from tests.slurm_cluster import slurm_cluster, unavailable

ROOT = Path(__file__).resolve().parents[1]
SEED = 1
PLAN = RunPlan("7b", "single", "all", "MR", 4)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Layout, Setup, list]:
    layout = Layout(tmp_path_factory.mktemp("jobs"))
    setup, runs = prepare([PLAN], SMOKE, SEED, layout, progress=False)
    return layout, setup, runs


def test_a_job_file_holds_the_whole_run_and_executes_to_the_local_record(prepared) -> None:
    layout, setup, (run,) = prepared
    job = write_job(run, setup, layout)
    again, setup_again, layout_again = read_job(job)
    assert (again.run_id, again.plan, Path(again.base), again.mixture) == (run.run_id, run.plan, Path(run.base).resolve(), run.mixture.resolve())
    assert (setup_again, layout_again.results) == (setup, layout.results.resolve())
    folder = execute_job(job)
    assert folder == layout.run_dir(run.run_id).resolve() and run_store.is_finished(folder)
    local = execute(run, setup)
    stored = run_store.load_run(folder)
    assert stored.run["weights_sha256"] == local.run["weights_sha256"]
    assert [e["score"] for e in stored.examples] == [e["score"] for e in local.examples]
    assert execute_job(job) == folder  # finished: not executed again


def test_a_changed_job_file_is_refused(prepared, tmp_path: Path) -> None:
    layout, setup, (run,) = prepared
    job = read_json(write_job(run, setup, layout))
    job["spec"]["k"] = 8
    write_json(tmp_path / JOB_FILE, job)
    with pytest.raises(InputError, match="hashes to run .* not " + run.run_id):
        read_job(tmp_path / JOB_FILE)


def test_a_judge_url_with_credentials_is_never_written_into_a_job(prepared, tmp_path: Path) -> None:
    layout, setup, (run,) = prepared
    judge = Judge("https://user:secret@judge.example/v1", "gpt-4o", tmp_path / "cache")
    with pytest.raises(InputError, match=r"OPENAI_API_KEY") as e:
        write_job(run, Setup(setup.world, setup.scale, setup.seed, judge), layout)
    assert "secret" not in str(e.value)
    plain = Judge("https://judge.example/v1", "gpt-4o", tmp_path / "cache")
    _, setup_again, _ = read_job(write_job(run, Setup(setup.world, setup.scale, setup.seed, plain), layout))
    assert setup_again.judge == Judge("https://judge.example/v1", "gpt-4o", (tmp_path / "cache").resolve())


def test_job_scripts_ask_for_what_the_options_say(tmp_path: Path) -> None:
    cpu = slurm.job_script(tmp_path, "abc", slurm.SlurmOptions(partition="short", time="1:00:00", sbatch_lines=("--qos=low",)), 1)
    assert "#SBATCH --partition=short" in cpu and "#SBATCH --time=1:00:00" in cpu and "#SBATCH --qos=low" in cpu
    assert "#SBATCH --cpus-per-task=1" in cpu and "accelerate" not in cpu and "--gpus" not in cpu
    assert cpu.rstrip().endswith(f"-m clt_kit.cli execute {tmp_path.resolve() / JOB_FILE}")
    node = slurm.job_script(tmp_path, "abc", slurm.SlurmOptions(gpus_per_run=8, account="lab", mem="400G"), 1)
    assert "#SBATCH --gpus-per-node=8" in node and "#SBATCH --account=lab" in node and "#SBATCH --mem=400G" in node
    assert "--cpus-per-task" not in node
    assert "accelerate.commands.launch --num_machines 1 --num_processes 8 --use_fsdp --fsdp_version 2" in node
    one = slurm.job_script(tmp_path, "abc", slurm.SlurmOptions(gpus_per_run=1, accelerate_config=str(ROOT / "configs/accelerate/1gpu.yaml")), 1)
    assert f"--num_processes 1 --config_file {ROOT / 'configs/accelerate/1gpu.yaml'}" in one and "--use_fsdp" not in one


def test_slurm_options_from_yaml_and_their_errors(tmp_path: Path) -> None:
    good = tmp_path / "slurm.yaml"
    good.write_text("partition: gpu\ngpus_per_run: 8\nsbatch_lines:\n  - --qos=high\n")
    assert slurm.SlurmOptions(**slurm.SlurmOptions.read(good)) == slurm.SlurmOptions(partition="gpu", gpus_per_run=8, sbatch_lines=("--qos=high",))
    bad = tmp_path / "bad.yaml"
    bad.write_text("partition: gpu\ngpus: 8\n")
    with pytest.raises(InputError, match=f"{bad}: .*unknown: gpus"):
        slurm.SlurmOptions.read(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("partition: gpu\n  gpus_per_run: [\n")
    with pytest.raises(InputError, match=f"{broken}:2: not valid YAML"):
        slurm.SlurmOptions.read(broken)


def test_executor_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    base = ["reproduce", "--figure", "2", "--scale", "smoke", "--results", str(tmp_path)]
    local = CliRunner().invoke(main, [*base, "--partition", "gpu"])
    assert local.exit_code == 2 and "--partition: Slurm options; add --executor slurm" in local.output
    jobs = CliRunner().invoke(main, [*base, "--executor", "slurm", "--jobs", "2"])
    assert jobs.exit_code == 2 and "--jobs: for the local executor" in jobs.output
    assert not (tmp_path / "work").exists()


def test_without_slurm_commands_the_error_says_so(prepared, monkeypatch: pytest.MonkeyPatch) -> None:
    layout, setup, runs = prepared
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InputError, match="sbatch: not found on PATH"):
        slurm.submit(runs, setup, Layout(layout.results / "elsewhere"), slurm.SlurmOptions())
    assert slurm.statuses(layout, ["0123456789abcdef"]) == [slurm.RunStatus("0123456789abcdef", slurm.NOT_SUBMITTED)]


def _clt(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clt_kit.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)


def _wait_until(condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _queued(env: dict[str, str]) -> list[str]:
    return subprocess.run(["squeue", "--noheader", "--format=%i"], env=env, capture_output=True, text=True, check=True).stdout.split()


def _rows(db: Path) -> tuple[list, list]:
    with duckdb.connect(str(db), read_only=True) as con:
        return (con.execute("SELECT * FROM examples ORDER BY ALL").fetchall(),
                con.execute("SELECT run_id, weights_sha256, best_step FROM runs ORDER BY ALL").fetchall())


@pytest.mark.slow
def test_a_smoke_sweep_through_a_real_slurm_cluster(tmp_path: Path) -> None:
    if (reason := unavailable()) is not None:
        pytest.skip(reason)
    sweep = ["reproduce", "--figure", "2", "--scale", "smoke", "--k", "0", "--seed", str(SEED)]
    results = tmp_path / "slurm-results"
    layout = Layout(results)
    with slurm_cluster(tmp_path / "cluster") as env:
        env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
        first = _clt([*sweep, "--results", str(results), "--executor", "slurm"], env)
        assert first.returncode == 0, first.stderr[-3000:]
        assert "submitted 6 run(s) as Slurm jobs" in first.stdout
        second = _clt([*sweep, "--results", str(results), "--executor", "slurm"], env)
        assert second.returncode == 0 and "submitted 0 run(s)" in second.stdout, second.stdout + second.stderr[-2000:]

        # cancel the last job (not started before the second submission) once it executes its run
        jobs = {slurm._last_job(d): d.name for d in layout.jobs.iterdir()}
        victim_job = max(jobs, key=int)
        victim = jobs[victim_job]
        log = slurm.log_path(layout.job_dir(victim), victim_job)
        _wait_until(lambda: log.is_file() and "clt-kit: executing" in log.read_text(), "the job to start its run")
        subprocess.run(["scancel", victim_job], env=env, check=True)
        _wait_until(lambda: victim_job not in _queued(env), "the job to leave the queue")
        status = _clt(["status", "--results", str(results)], env)
        assert f"failed: run {victim} (job {victim_job}, log {log})" in status.stdout, status.stdout
        assert "CANCELLED" in status.stdout  # the log's last lines, shown under the failed run
        assert not run_store.is_finished(layout.run_dir(victim))

        again = _clt(["resubmit", victim, "--results", str(results)], env)
        assert again.returncode == 0 and f"run {victim}: job" in again.stdout, again.stderr
        twice = _clt(["resubmit", victim, "--results", str(results)], env)
        assert twice.returncode == 2 and "only a failed run is submitted again" in twice.stderr

        done = _clt([*sweep, "--results", str(results), "--executor", "slurm", "--wait", "--poll", "1"], env)
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        assert "submitted 0 run(s)" in done.stdout and "runs: 6 finished, 0 running, 0 queued, 0 failed, of 6" in done.stdout
        assert (results / "figures" / "figure2.png").is_file()
        last = _clt([*sweep, "--results", str(results), "--executor", "slurm"], env)
        assert "submitted 0 run(s)" in last.stdout and "runs: 6 finished" in last.stdout
        assert "6 finished, 0 running, 0 queued, 0 failed" in _clt(["status", "--results", str(results)], env).stdout

    local = tmp_path / "local-results"
    assert CliRunner().invoke(main, [*sweep, "--results", str(local), "--jobs", "2"]).exit_code == 0
    slurm_rows, local_rows = _rows(Layout(results).db), _rows(Layout(local).db)
    assert len(slurm_rows[1]) == 6 and len(slurm_rows[0]) > 100
    assert slurm_rows == local_rows


def test_the_queue_is_matched_by_job_id_and_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A recorded job id that the queue now gives to another job (a cluster whose job ids started
    again) does not keep the run from being submitted."""
    layout = Layout(tmp_path)
    for run in ("a" * 16, "b" * 16):
        layout.job_dir(run).mkdir(parents=True)
        (layout.job_dir(run) / slurm.SUBMISSIONS).write_text(json.dumps({"job_id": "7" if run[0] == "a" else "8"}) + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "squeue").write_text(f"#!/bin/sh\necho '7|clt-{'a' * 16}|RUNNING'\necho '8|someone-else|PENDING'\n")
    (bin_dir / "squeue").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert [s.state for s in slurm.statuses(layout, ["a" * 16, "b" * 16])] == [slurm.RUNNING, slurm.FAILED]


def _other_base(run, tmp_path: Path) -> Path:
    """A kit base model other than the run's (a copy of another bundled one: its files match its own record)."""
    import shutil

    from clt_kit.train.pretrain import BUNDLED

    mine = read_json(Path(run.base) / "base.json")["weights_sha256"]
    other = next(p.parent for p in sorted(BUNDLED.glob("*/base.json")) if read_json(p)["weights_sha256"] != mine)
    return Path(shutil.copytree(other, tmp_path / "base", ignore=shutil.ignore_patterns(".clt-*")))


def _other_world(setup, tmp_path: Path) -> str:
    """A copy of the run's world whose record says another seed."""
    import shutil

    shutil.copytree(setup.world.root, tmp_path / "world")
    record = read_json(tmp_path / "world" / "world.json")
    write_json(tmp_path / "world" / "world.json", {**record, "seed": record["seed"] + 1})
    return str(tmp_path / "world")


def _other_mixture(setup, tmp_path: Path) -> str:
    from clt_kit.prep import MixtureSpec, build_mixture

    out = tmp_path / "mixture"
    build_mixture(MixtureSpec(PLAN.task, SMOKE.english_train, 8, SEED, ("es",)), setup.world.train(PLAN.task), setup.world.test(PLAN.task), out, lenient=True)
    return str(out)


@pytest.mark.parametrize("edit", [
    "plan.k", "plan.model", "plan.task", "plan.setting", "plan.mixture", "seed", "mixture", "base", "data", "judge",
])
def test_a_job_runs_only_what_its_id_covers(prepared, tmp_path: Path, edit: str) -> None:
    """Every field of a job file that says what it runs (its plan, seed, judge, and the base model,
    mixture and data its paths name) is derived from, or checked against, the spec its run id is
    the hash of: an edited one is refused before training, and no run folder is written."""
    layout, setup, (run,) = prepared
    job = read_json(write_job(run, setup, layout))
    job["results"] = str(tmp_path / "results")
    other = {"plan.k": 8, "plan.model": "35b", "plan.task": "SM", "plan.setting": "multi", "plan.mixture": "latin", "seed": SEED + 1}
    if edit.startswith("plan."):
        job["plan"][edit.removeprefix("plan.")] = other[edit]
    elif edit == "seed":
        job["seed"] = other[edit]
    elif edit == "mixture":
        job["mixture"] = _other_mixture(setup, tmp_path)
    elif edit == "base":
        job["base"] = str(_other_base(run, tmp_path))
    elif edit == "data":
        job["data"]["root"] = _other_world(setup, tmp_path)
    else:  # a judge for a run whose spec names none: it would rate IF answers under an id that says checkers
        job["plan"], job["spec"] = {**job["plan"], "task": "IF"}, {**job["spec"], "task": "IF"}
        job["run_id"] = PreparedRun(RunPlan(**job["plan"]), job["spec"], job["base"], Path(job["mixture"])).run_id
        job["judge"] = {"base_url": "https://judge.example/v1", "model": "gpt-4o", "cache": str(tmp_path / "cache")}
    write_json(tmp_path / JOB_FILE, job)
    with pytest.raises(InputError, match="spec"):
        execute_job(tmp_path / JOB_FILE)
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("run.json"))
