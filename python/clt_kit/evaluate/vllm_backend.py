"""vLLM as the generation backend, run in an environment of its own.

vLLM pins exact torch and transformers versions that differ from the kit's lock, so it cannot be
installed beside the kit: `make vllm-env` installs it into `.venv-vllm/` (README, "Generation with
vLLM"), and the kit runs `vllm_worker.py` with that environment's Python. The kit tokenizes the
prompts (its template, its cut) and decodes the answers, exactly as for its own greedy loop
(evaluate/generate.py), so the two backends see and return the same tokens; only the forward
passes are vLLM's. A test checks that the answers equal the transformers backend's on a tiny
model (tests/test_vllm.py).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import Any

from clt_kit.jsonio import InputError

WORKER = Path(__file__).with_name("vllm_worker.py")
# Where `make vllm-env` installs vLLM, relative to the repository (or $CLT_KIT_VLLM_PYTHON).
DEFAULT_ENV = Path(".venv-vllm")
PYTHON_VARIABLE = "CLT_KIT_VLLM_PYTHON"
DTYPES = {"fp32": "float32", "bf16": "bfloat16"}

log = logging.getLogger("clt_kit")


@dataclass(frozen=True)
class VllmModel:
    """A saved model (a folder or a hub id) that vLLM generates with, in the environment whose
    interpreter is `python`. Stands where a transformers model stands in `generate`."""

    path: str
    python: Path
    precision: str = "fp32"  # vLLM's dtype; `generate.place` sets it from the scale's, as for a transformers model
    seed: int = 0

    def describe(self) -> dict[str, Any]:
        return {"backend": "vllm", "model": self.path, "python": str(self.python), "dtype": DTYPES[self.precision]}


def vllm_python(given: Path | None = None) -> Path:
    """The vLLM environment's interpreter: `given`, else $CLT_KIT_VLLM_PYTHON, else .venv-vllm's;
    an error that says how to make one when it is not there."""
    python = given or Path(os.environ.get(PYTHON_VARIABLE) or DEFAULT_ENV / "bin" / "python")
    if not python.is_file():
        raise InputError(f"no vLLM environment: {python} does not exist. `make vllm-env` installs vLLM into {DEFAULT_ENV}/"
                         f" (its own torch and transformers, apart from the kit's), or give its interpreter with --vllm-python"
                         f" or ${PYTHON_VARIABLE}")
    return python


def greedy_vllm(model: VllmModel, prompts: list[list[int]], max_new_tokens: int, stop_ids: Sequence[int] = (),
                stops: Sequence[Sequence[str]] | None = None) -> list[list[int]]:
    """The new tokens of each prompt (token ids) under greedy decoding, from vLLM, in order; each
    ends at one of `stop_ids` (with end-of-sequence) or at the token that completes one of its
    stop strings (`stops[i]`), as the kit's own loop ends it (evaluate/generate.py)."""
    if not prompts:
        return []
    with tempfile.TemporaryDirectory(prefix="clt-vllm-") as tmp:
        request, answer = Path(tmp) / "request.json", Path(tmp) / "answer.json"
        request.write_text(json.dumps({"model": model.path, "prompts": prompts, "max_new_tokens": max_new_tokens,
                                       "stop_token_ids": list(stop_ids), "stop": [list(s) for s in stops or [() for _ in prompts]],
                                       "dtype": DTYPES[model.precision], "seed": model.seed}), encoding="utf-8")
        # -I: the worker's folder (this package's modules) stays off vLLM's import path
        done = subprocess.run([str(model.python), "-I", str(WORKER), str(request), str(answer)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"vLLM ({model.python}) failed on {model.path} with exit status {done.returncode}:\n{done.stderr[-3000:]}")
        answered = json.loads(answer.read_text(encoding="utf-8"))
    new: list[list[int]] = answered["new_tokens"]
    log.info("vLLM %s on %s answered %d prompts", answered["vllm"], answered["device"], len(new))
    if len(new) != len(prompts):
        raise RuntimeError(f"vLLM answered {len(new)} of {len(prompts)} prompts")
    return new
