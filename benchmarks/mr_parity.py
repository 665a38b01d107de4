"""MR readings against lm-evaluation-harness's own: its MGSM native-CoT filters, run on a corpus of
answers, beside the kit's readings (evaluate/metrics.py), with the agreement of each reading.

The oracle is lm-eval itself (the `bench` dependency group): each language's task file as the
installed lm-eval ships it (lm_eval/tasks/mgsm/native_cot/mgsm_native_cot_<lang>.yaml), its
RegexFilter for the strict-match and flexible-extract filters and its exact_match metric (ignoring
case and punctuation, as the task sets it). Answers are cut at the task's first `until` string
first, as lm-eval's generation would have stopped there.

    python benchmarks/mr_parity.py [CORPUS.jsonl ...]

A corpus line: {"lang", "output" (the model's answer), "answer" (the reference number)}. Without
one, benchmarks/data/mr_answers_hostile.jsonl (hand-written answers, not a model's). Prints the
agreement per reading and every disagreement; exit status 1 if lm-eval's readings and the kit's
strict_score/flexible_score ever differ (the kit's `score` may: docs/results.md says where and why).
Also prints each language's accuracy by every reading (lm-eval's strict and flexible, the kit's).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from lm_eval.api.metrics import exact_match_hf_evaluate
from lm_eval.filters.extraction import RegexFilter

import lm_eval
from clt_kit.evaluate.generate import cut_at_stop
from clt_kit.evaluate.tasks import score
from clt_kit.jsonio import read_jsonl

TASKS = Path(lm_eval.__file__).parent / "tasks" / "mgsm" / "native_cot"
DEFAULT = Path(__file__).parent / "data" / "mr_answers_hostile.jsonl"


def lm_eval_task(lang: str) -> tuple[list[str], dict[str, RegexFilter]]:
    """lm-eval's `until` and its two regex filters (by name) for `lang`'s MGSM native-CoT task."""
    task = yaml.safe_load((TASKS / f"mgsm_native_cot_{lang}.yaml").read_text(encoding="utf-8"))
    filters = {f["name"]: RegexFilter(**{k: v for k, v in f["filter"][0].items() if k != "function"}) for f in task["filter_list"]}
    return task["generation_kwargs"]["until"], filters


def lm_eval_scores(lang: str, output: str, reference: str) -> tuple[str, dict[str, tuple[str, float]]]:
    """The stop-cut answer, and lm-eval's (extracted, score) per filter."""
    until, filters = lm_eval_task(lang)
    cut = cut_at_stop(output, until)
    readings = {}
    for name, regex in filters.items():
        extracted = list(regex.apply([[cut]], [{}]))[0][0]
        right = exact_match_hf_evaluate([extracted], [reference], ignore_case=True, ignore_punctuation=True)["exact_match"]
        readings[name] = (extracted, float(right))
    return cut, readings


def main(paths: list[str]) -> int:
    rows = [row for path in (paths or [str(DEFAULT)]) for row in read_jsonl(Path(path))]
    agree = {"strict": 0, "flexible": 0, "kit score = lm-eval strict": 0, "kit score = lm-eval flexible": 0}
    accuracy: dict[str, list[tuple[float, ...]]] = {}  # lang -> (lm-eval strict, kit strict, lm-eval flexible, kit flexible, kit score)
    parity_broken = False
    for row in rows:
        reference = str(row["answer"])
        cut, theirs = lm_eval_scores(row["lang"], row["output"], reference)
        ours = score("MR", {"lang": row["lang"], "answer": int(row["answer"])}, cut.strip())
        checks = {"strict": ours["strict_score"] == theirs["strict-match"][1],
                  "flexible": ours["flexible_score"] == theirs["flexible-extract"][1],
                  "kit score = lm-eval strict": ours["score"] == theirs["strict-match"][1],
                  "kit score = lm-eval flexible": ours["score"] == theirs["flexible-extract"][1]}
        for name, ok in checks.items():
            agree[name] += ok
        accuracy.setdefault(row["lang"], []).append((theirs["strict-match"][1], ours["strict_score"], theirs["flexible-extract"][1],
                                                     ours["flexible_score"], ours["score"]))
        if not (checks["strict"] and checks["flexible"]):
            parity_broken = True
        if not all(checks.values()):
            print(f"{row['lang']}\treference {reference}\tlm-eval strict {theirs['strict-match']}\tflexible"
                  f" {theirs['flexible-extract']}\tkit {ours['extracted']!r} ({ours['rule']}) {ours['score']}\t{cut.strip()[-80:]!r}")
    print("lang\tn\tstrict lm-eval\tstrict kit\tflexible lm-eval\tflexible kit\tkit score")
    for lang, scores in accuracy.items():
        print("\t".join([lang, str(len(scores)), *(f"{sum(column) / len(scores):.3f}" for column in zip(*scores))]))
    for name, n in agree.items():
        print(f"{name}: {n}/{len(rows)} agree")
    return 1 if parity_broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
