"""Greedy generation with vLLM, run by the Python of vLLM's own environment (`make vllm-env`).

vLLM pins its own torch and transformers, which the kit's lock cannot hold beside its own, so the
kit never imports it: `evaluate/vllm_backend.py` writes a request file, runs this script with the vLLM
environment's interpreter, and reads the answers back. This file therefore imports only the
standard library and vLLM (and torch, which vLLM brings), never clt_kit.

The request (JSON): {"model": folder or hub id, "prompts": [[token id, ...], ...],
"max_new_tokens": N, "stop_token_ids": [token id, ...], "stop": [[stop string, ...], ...] (one list
per prompt; the keys may be absent: none), "dtype": "float32" | "bfloat16", "seed": S}. The prompts are token
ids, already in the model's template and cut as the kit cuts them, so both backends read the
same tokens. The answer (JSON): {"new_tokens": [[token id, ...], ...] in the prompts' order, each
with its end-of-sequence token when written, as the kit's own greedy loop returns them;
"vllm": vLLM's version; "device": "cuda" or "cpu"}.

    python vllm_worker.py REQUEST.json ANSWER.json
"""

from __future__ import annotations

import json
import os
import sys

# On a machine without a GPU, vLLM's CPU build reserves this many GiB for its KV cache (its own
# default is most of the machine's memory, which a shared machine does not have free).
CPU_KV_CACHE_GIB = "1"
CPU_MEMORY_FRACTION = 0.1  # on CPU vLLM reads gpu_memory_utilization as a share of the machine's memory


def main(request_path: str, answer_path: str) -> None:
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    import torch

    cuda = torch.cuda.is_available()
    if not cuda:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
    import vllm
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    llm = LLM(model=request["model"], dtype=request["dtype"], seed=request["seed"], enforce_eager=not cuda,
              **({} if cuda else {"gpu_memory_utilization": CPU_MEMORY_FRACTION}))
    prompts = request["prompts"]
    # vLLM ends a sequence at its end-of-sequence token, at `stop_token_ids` and at the token that
    # completes a `stop` string in its decoded text; its token ids keep that token, as the kit's loop does.
    greedy = [SamplingParams(temperature=0.0, max_tokens=request["max_new_tokens"], stop_token_ids=request.get("stop_token_ids") or None,
                             stop=stop or None) for stop in request.get("stop") or [[] for _ in prompts]]
    outputs = llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in prompts], greedy)
    answer = {"new_tokens": [list(o.outputs[0].token_ids) for o in outputs], "vllm": vllm.__version__, "device": "cuda" if cuda else "cpu"}
    with open(answer_path, "w", encoding="utf-8") as f:
        json.dump(answer, f)


if __name__ == "__main__":  # vLLM starts its engine in a spawned process, which imports this file again
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} REQUEST.json ANSWER.json")
    main(sys.argv[1], sys.argv[2])
