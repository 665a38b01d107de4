"""The vLLM backend (evaluate/vllm_backend.py): its greedy answers equal the kit's own on a tiny
model, through `generate` and through `clt-kit eval --backend vllm`.

vLLM lives in an environment of its own (`make vllm-env`); `make test-vllm` makes it and runs this
file. Without it the end-to-end test skips and says so; the others run everywhere."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from clt_kit.cli import main
from clt_kit.evaluate.generate import generate, place
from clt_kit.evaluate.vllm_backend import DEFAULT_ENV, PYTHON_VARIABLE, WORKER, VllmModel, greedy_vllm, vllm_python
from clt_kit.jsonio import InputError, read_jsonl
from clt_kit.scales import SMOKE, ModelSize
from clt_kit.train.pretrain import ensure_base_model, load_base

ROOT = Path(__file__).resolve().parents[1]


def _environment() -> Path | None:
    """The vLLM environment's interpreter, as `clt-kit eval --backend vllm` finds it; None: there is none."""
    python = Path(os.environ.get(PYTHON_VARIABLE) or ROOT / DEFAULT_ENV / "bin" / "python")
    return python if python.is_file() else None


VLLM = _environment()


def test_the_worker_imports_only_the_standard_library_and_vllm() -> None:
    """It runs in vLLM's environment, where the kit and its pinned packages are not installed."""
    tree = ast.parse(WORKER.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "json", "os", "sys", "torch", "vllm"}, imported


def test_a_missing_vllm_environment_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="make vllm-env"):
        vllm_python(tmp_path / "nowhere" / "python")
    test = tmp_path / "test.jsonl"
    test.write_text("", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "--model", str(tmp_path), "--test", str(test), "--task", "MR", "--scale", "smoke",
                                       "--backend", "vllm", "--vllm-python", str(tmp_path / "nowhere" / "python")])
    assert result.exit_code != 0 and "make vllm-env" in result.output


def test_a_worker_that_fails_is_reported_with_its_error(tmp_path: Path) -> None:
    """This interpreter has no vLLM: the worker stops at its import, and the error says so."""
    with pytest.raises(RuntimeError, match="No module named 'vllm'"):
        greedy_vllm(VllmModel(str(tmp_path), Path(sys.executable)), [[1, 2, 3]], 4)
    assert greedy_vllm(VllmModel(str(tmp_path), Path(sys.executable)), [], 4) == []  # nothing to ask: vLLM is not started


@pytest.mark.slow
@pytest.mark.skipif(VLLM is None, reason=f"no vLLM environment ({DEFAULT_ENV}/ or ${PYTHON_VARIABLE}): `make test-vllm` makes it and runs this test")
def test_vllm_answers_equal_the_transformers_backend(smoke_world, tmp_path: Path) -> None:
    """A tiny Cohere model (vLLM's CPU attention needs heads of 32 or more dimensions: hidden 64,
    2 heads), pretrained on the smoke world, answers every smoke test prompt of the three tasks
    (cut to the smoke window) greedily; vLLM's answers must be the kit's, text for text."""
    assert VLLM is not None
    size = ModelSize("vllm-check", "cohere", hidden=64, layers=2, heads=2, intermediate=128)
    base = ensure_base_model(size, smoke_world, SMOKE.pretrain, 0, tmp_path / "models")
    model, tokenizer = load_base(base)
    prompts = [t["prompt"] for task in ("IF", "SM", "MR") for t in read_jsonl(smoke_world.test(task))]
    window, new = SMOKE.eval.seq_len, SMOKE.eval.max_new_tokens
    kit = generate(model.eval(), tokenizer, prompts, new, SMOKE.eval.batch, window)
    served = generate(VllmModel(str(base), VLLM), tokenizer, prompts, new, SMOKE.eval.batch, window)
    assert len(set(kit)) > 3, "a model that answers everything alike proves little"
    assert served == kit

    rows = {}
    for backend in ("transformers", "vllm"):
        out = tmp_path / f"{backend}.jsonl"
        result = CliRunner().invoke(main, ["eval", "--model", str(base), "--test", str(smoke_world.test("MR")), "--task", "MR",
                                           "--scale", "smoke", "--out", str(out), "--backend", backend, "--vllm-python", str(VLLM)])
        assert result.exit_code == 0, result.output
        rows[backend] = read_jsonl(out)
    assert [(r["output"], r["score"]) for r in rows["vllm"]] == [(r["output"], r["score"]) for r in rows["transformers"]]


def test_vllm_runs_in_the_weights_precision_on_a_cpu(tmp_path: Path) -> None:
    """As `place` leaves a transformers model in fp32 on a CPU, the paper scale's bf16 reaches vLLM
    only where there is a GPU: in bf16 on a CPU, 4 of 24 greedy answers of gpu_check's model parted
    from the kit's (fp32: 24 of 24 equal)."""
    served = place(VllmModel(str(tmp_path), Path(sys.executable)), "bf16")
    assert served.precision == ("bf16" if torch.cuda.is_available() else "fp32")
    assert served.describe()["dtype"] == ("bfloat16" if torch.cuda.is_available() else "float32")


@pytest.mark.slow
@pytest.mark.skipif(VLLM is None, reason=f"no vLLM environment ({DEFAULT_ENV}/ or ${PYTHON_VARIABLE}): `make test-vllm` makes it and runs this test")
def test_the_gpu_check_compares_the_vllm_backend(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--hidden", "64", "--layers", "1", "--steps", "2",
                           "--max-new-tokens", "8"], capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env={**os.environ, PYTHON_VARIABLE: str(VLLM)})
    assert done.returncode == 0, done.stderr[-3000:]
    report = {line.split(": ", 1)[0]: json.loads(line.split(": ", 1)[1]) for line in done.stdout.splitlines() if ": " in line}
    assert report["vllm"]["answers_equal_to_the_kit"] == "24 of 24", report["vllm"]
