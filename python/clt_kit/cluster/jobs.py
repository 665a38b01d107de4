"""Job files: one planned run, written down whole, so that another process (a cluster job, on
another machine of a shared file system, or `accelerate launch`'s processes on this one) can
execute it without planning the sweep again; and the command that executes one (launch_command).

A job file (`work/jobs/<run_id>/job.json`) holds the run's plan, its spec (the scale inside it),
the paths of its base model, mixture and data folder (absolute), the seed, and the LLM judge's
settings (never a credential: the API key is read from the job's environment). `execute_job`
executes it as a local sweep executes a run: the same `pipeline.execute`, the same run folder,
published whole or not at all. It never writes the database: the submitting command or
`clt-kit ingest` loads finished run folders, one process at a time.

What a job executes is what its run id covers: the plan, the seed and the scale are read from
the spec (the plan and seed written beside it must agree with it), the judge must be the one
the spec describes, and the base model, the mixture and the data the paths name are checked
against the spec's hashes before training (pipeline.execute), so an edited job file is refused,
never run under an id that does not describe it.
"""

from __future__ import annotations

import dataclasses
import sys
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clt_kit.evaluate.judge import Judge, public_url
from clt_kit.jsonio import InputError, read_json, write_json
from clt_kit.layout import Layout
from clt_kit.results import runs as run_store
from clt_kit.scales import Scale
from clt_kit.world.generate import WorldPaths

if TYPE_CHECKING:  # the pipeline (torch, transformers) is imported by what reads or executes a job, not by `clt-kit status`
    from clt_kit.pipeline import PreparedRun, RunPlan, Setup

JOB_FILE = "job.json"
# the FSDP settings of configs/accelerate/8gpu-fsdp.yaml, for a run on several GPUs without an accelerate config
FSDP_FLAGS = ("--use_fsdp", "--fsdp_version", "2", "--fsdp_auto_wrap_policy", "TRANSFORMER_BASED_WRAP",
              "--fsdp_state_dict_type", "SHARDED_STATE_DICT", "--fsdp_cpu_ram_efficient_loading", "true",
              "--fsdp_reshard_after_forward", "true")


def _judge_fields(judge: Judge) -> dict[str, Any]:
    parts = urllib.parse.urlsplit(judge.base_url)
    if parts.username is not None or parts.password is not None or parts.query:
        raise InputError(f"{public_url(judge.base_url)}: a judge URL with credentials in it would be written into every job"
                         " file; give the key in $" + judge.api_key_env + " instead (the jobs read it from their environment)")
    return {**dataclasses.asdict(judge), "cache": str(Path(judge.cache).resolve())}


def write_job(run: PreparedRun, setup: Setup, layout: Layout) -> Path:
    """Writes the job file of `run` (atomically) into its job folder; returns its path."""
    path = layout.job_dir(run.run_id) / JOB_FILE
    write_json(path, {
        "run_id": run.run_id, "results": str(layout.results.resolve()),
        "plan": dataclasses.asdict(run.plan), "spec": run.spec,
        "base": str(Path(run.base).resolve()) if Path(run.base).is_dir() else str(run.base),
        "mixture": str(run.mixture.resolve()),
        "data": {"root": str(setup.world.root.resolve()), "record": setup.world.record},
        "seed": setup.seed, "judge": None if setup.judge is None else _judge_fields(setup.judge),
    })
    return path


def read_job(path: Path) -> tuple[PreparedRun, Setup, Layout]:
    """The run, its sweep's setup and the results folder of a job file."""
    from clt_kit.pipeline import PreparedRun, Setup

    job = read_json(path)
    try:
        spec = job["spec"]
        judge = None if job["judge"] is None else Judge(**{**job["judge"], "cache": Path(job["judge"]["cache"])})
        setup = Setup(WorldPaths(Path(job["data"]["root"]), job["data"]["record"]), Scale.from_dict(spec["scale"]), spec["seed"], judge)
        run = PreparedRun(plan_of(spec), spec, job["base"], Path(job["mixture"]))
        written = {"plan": job["plan"], "seed": job["seed"]}
    except (KeyError, TypeError) as e:
        raise InputError(f"{path}: not a job file of this kit ({e!r}); write it again with the same `reproduce --executor slurm`") from e
    if run.run_id != job["run_id"]:
        raise InputError(f"{path}: its spec hashes to run {run.run_id}, not {job['run_id']}: the file was changed; submit the run again")
    # What the run is comes from its spec, which its id covers; a copy elsewhere in the file that differs was changed.
    derived = {"plan": dataclasses.asdict(run.plan), "seed": setup.seed}
    if changed := [f"{key} is {written[key]!r} but run {run.run_id}'s spec says {derived[key]!r}" for key in sorted(derived) if written[key] != derived[key]]:
        raise InputError(f"{path}: {'; '.join(changed)}: the file was changed; submit the run again")
    if "IF" in run.plan.tasks and spec.get("judge") != (None if judge is None else judge.describe()):
        raise InputError(f"{path}: judge {None if judge is None else judge.describe()!r} but run {run.run_id}'s spec says"
                         f" {spec.get('judge')!r}: the file was changed; submit the run again")
    return run, setup, Layout(Path(job["results"]))


def plan_of(spec: dict[str, Any]) -> RunPlan:
    """The planned run a run's spec describes (every field of RunPlan is one of the spec's)."""
    from clt_kit.pipeline import RunPlan

    return RunPlan(**{f.name: spec[f.name] for f in dataclasses.fields(RunPlan)})


def execute_job(path: Path) -> Path | None:
    """Executes the run of a job file unless its run folder is finished; returns the run folder
    on the process that wrote it (the main one), None on the others."""
    from clt_kit.pipeline import execute

    run, setup, layout = read_job(path)
    folder = layout.run_dir(run.run_id)
    if run_store.is_finished(folder):
        return folder
    record = execute(run, setup)
    if record is None:
        return None
    run_store.save_run(record, folder)
    return folder


def launch_command(job_file: Path, gpus: int, accelerate_config: str | None = None) -> list[str]:
    """The command that executes a job file: this Python on its own for a CPU job (`gpus` 0), else
    under `accelerate launch` with one process per GPU of one machine (on several GPUs, FSDP with
    the settings of configs/accelerate/8gpu-fsdp.yaml, unless `accelerate_config` gives others)."""
    launch = [sys.executable]
    if gpus:
        launch += ["-m", "accelerate.commands.launch", "--num_machines", "1", "--num_processes", str(gpus)]
        if accelerate_config:
            launch += ["--config_file", str(Path(accelerate_config).resolve())]
        elif gpus > 1:
            launch += list(FSDP_FLAGS)
    return [*launch, "-m", "clt_kit.cli", "execute", str(job_file.resolve())]


def log_tail(path: Path | None, lines: int) -> list[str]:
    """The last `lines` lines of a job's log ([] where there is none yet)."""
    if path is None or not path.is_file():
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
