"""The documented commands, run as written: every command in the code blocks of README.md and of
the docs pages in PAGES runs in one fresh folder, page after page in PAGES' order and in each
page's order, at smoke scale (a `reproduce` without `--scale` gets `--scale smoke`, and the
default scale's paths become the smoke scale's). The commands this test cannot run say why in
NOT_RUN, so a documented line that stops working, or a new one, fails here."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# README first (its quick start makes the results the later commands read), then the pages that
# hold the commands README used to show, each linked from README.
PAGES = ("README.md", "docs/reliability.md", "docs/prep.md", "docs/paper-scale.md", "docs/cluster.md", "docs/container.md")
# The programs whose lines in the pages' code blocks are commands (the other indented lines are
# the layout tree and the like).
PROGRAMS = ("make ", ".venv/bin/", "clt-kit ", "duckdb ", "docker ", "accelerate ", "mkdir ")
# Commands the pages show that this test does not run, by their first words, and why.
NOT_RUN = {
    "make reproduce": "the main job at the default scale (half an hour); its smoke twin runs here",
    "make test": "this test suite itself",
    ".venv/bin/python scripts/gpu_check.py": "the GPU check: tests/test_gpu_check.py runs it on the CPU at a tiny size",
    "docker ": "the container: `make docker-test` builds the image and runs these",
    "mkdir -p results && chmod": "the container's results volume (make docker-test)",
    "accelerate launch": "the paper scale: a hub model and GPUs",
    "clt-kit reproduce --scale paper --figure 2 --data": "the paper scale: hub models, GPUs and a judge (tests/test_paper_scale.py"
                                                         " runs it over the dataset fixtures with tiny local models and a judge stub)",
    "clt-kit reproduce --all --scale paper --executor slurm": "a Slurm cluster with GPUs (tests/test_slurm.py runs a smoke"
                                                             " sweep through a one-node Slurm cluster it starts)",
    "clt-kit status --results /shared": "the Slurm sweep above (tests/test_slurm.py runs `clt-kit status` on its cluster)",
    "clt-kit resubmit ": "a failed Slurm job (tests/test_slurm.py resubmits one it cancelled)",
    "clt-kit data data.yaml": "the paper scale: the study's datasets (tests/test_sources.py runs every adapter on its fixture)",
    "clt-kit prep --task MR --pool data/": "the paper scale: the data `clt-kit data` writes",
    "clt-kit prep --task IF --pool data/": "your own data: the data `clt-kit data` writes from it",
    "clt-kit train --base my-org/": "your own hub model (tests/test_any_model.py trains a tiny local one)",
    "clt-kit ingest runs/": "the paper scale: folders of fine-tuned hub models (tests/test_any_model.py ingests a tiny one)",
    "clt-kit eval ": "the paper scale: a fine-tuned hub model and a judge endpoint",
    "make test-vllm": "vLLM's own environment, several GB (tests/test_vllm.py: its check runs where that environment is)",
    ".venv/bin/clt-kit verify data_manifests/": "the committed manifests describe the default scale's data:"
                                                " tests/test_data_manifests.py checks them against a rebuild at that scale",
}


def readme_commands(text: str) -> list[str]:
    """The commands of a page's indented code blocks (lines indented by four spaces that start
    with one of PROGRAMS), in order, with continuation lines (a trailing backslash) joined."""
    commands: list[str] = []
    pending: str | None = None
    for line in text.splitlines():
        body = line.strip()
        if pending is not None:
            pending += " " + body
        elif line.startswith("    ") and body.startswith(PROGRAMS):
            pending = body
        else:
            continue
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        commands.append(pending.split("  #")[0].strip())
        pending = None
    return commands


def documented_commands() -> list[str]:
    """The commands of every page of PAGES, in PAGES' order."""
    return [c for page in PAGES for c in readme_commands((ROOT / page).read_text(encoding="utf-8"))]


def at_smoke_scale(command: str) -> str:
    if "clt-kit reproduce " in command and "--scale" not in command:
        command += " --scale smoke"
    return command.replace("world-mini-s0", "world-smoke-s0")


def _skipped(command: str) -> str | None:
    return next((why for start, why in NOT_RUN.items() if command.startswith(start)), None)


def test_readme_lists_commands_and_names_every_one_it_skips() -> None:
    readme = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert {"make reproduce", "make test"} <= set(readme)  # the main job and the tests
    assert any(c.startswith(".venv/bin/duckdb") for c in readme) and any("clt-kit sql" in c for c in readme)
    assert any("--scale smoke" in c for c in readme)
    commands = documented_commands()
    assert any(" verify " in f" {c} " for c in commands)
    for page in PAGES[1:]:  # each page is linked from README and still holds commands
        assert f"]({page})" in (ROOT / "README.md").read_text(encoding="utf-8"), f"README does not link {page}"
        assert readme_commands((ROOT / page).read_text(encoding="utf-8")), f"{page} shows no command"
    for start in NOT_RUN:  # every reason still names a command the pages show
        assert any(c.startswith(start) for c in commands), start


def test_the_docs_links_resolve() -> None:
    """Every relative link of README.md and docs/*.md names a file that exists."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links {target}, which does not exist"


def test_every_readme_command_runs(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    env.pop("CLT_KIT_RESULTS", None)
    ran = 0
    for command in documented_commands():
        if _skipped(command):
            continue
        run = at_smoke_scale(command)
        done = subprocess.run(["bash", "-c", run], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"the documented `{command}` (run as `{run}`) failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        if "sql" in run or run.startswith(".venv/bin/duckdb"):
            assert len(done.stdout.strip().splitlines()) >= 2, f"`{run}` printed no rows:\n{done.stdout}"
        ran += 1
    assert ran >= 12
