"""Scoring one task's test set: one row per example, with what the metric read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from clt_kit.evaluate.generate import generate
from clt_kit.evaluate.judge import Judge
from clt_kit.evaluate.metrics import if_rating, lm_eval_match, read_mr_answer, rouge_l
from clt_kit.jsonio import InputError, read_jsonl
from clt_kit.prep.core import identify_languages
from clt_kit.scales import EvalConfig


# The switch rule (IF) fires only on answers long and clear enough to tell their language: at
# least SWITCH_MIN_LETTERS letters, identified with at least SWITCH_MIN_CONFIDENCE. "Sure!",
# "Done." or "Claro!" are too short to say they are not in the prompt's language (the identifier
# may still name a language for them, even with full confidence); the checkers or the judge rate them.
SWITCH_MIN_LETTERS = 12
SWITCH_MIN_CONFIDENCE = 0.8


def switched(output: str, prompt_lang: str, detected_lang: str, confidence: float) -> bool:
    """Whether an IF answer is, clearly, in another language than its prompt."""
    if detected_lang in ("und", prompt_lang):
        return False
    return sum(c.isalpha() for c in output) >= SWITCH_MIN_LETTERS and confidence >= SWITCH_MIN_CONFIDENCE


def _mr_row(item: dict[str, Any], output: str, detected_lang: str, judge: Judge | None, confidence: float) -> dict[str, Any]:
    reading, reference = read_mr_answer(output, item["lang"]), str(item["answer"])
    return {
        "reference": reference,
        "extracted": reading.used.span,
        "rule": reading.used.rule,
        "score": float(reading.used.value is not None and reading.used.value == item["answer"]),
        "strict_score": float(lm_eval_match(reading.strict, reference)),
        "flexible_score": float(lm_eval_match(reading.flexible, reference)),
    }


def _sm_row(item: dict[str, Any], output: str, detected_lang: str, judge: Judge | None, confidence: float) -> dict[str, Any]:
    return {"reference": item["response"], "extracted": None, "rule": "rougeL", "score": rouge_l(output, item["response"])}


def is_checkable(item: dict[str, Any]) -> bool:
    """Whether the world's checkers can rate answers to IF item `item` (it lists verifiable instructions)."""
    return "instructions" in item


def _if_row(item: dict[str, Any], output: str, detected_lang: str, judge: Judge | None, confidence: float) -> dict[str, Any]:
    """Items with verifiable `instructions` (the world's) are rated by the checkers, or by the judge
    when there is one; items without (open-ended prompts such as Aya Dolly's) only by the judge."""
    checkable = is_checkable(item)
    if not checkable and judge is None:
        raise InputError(f"IF item {item.get('id')!r} has no verifiable instructions: an LLM judge must rate it;"
                         " pass --judge-url (an OpenAI-compatible endpoint)")
    rating, fraction = if_rating(output, item["instructions"]) if checkable else (None, None)
    row = {"reference": item.get("response", ""), "extracted": None if fraction is None else f"{fraction:.4f}"}
    if not output.strip():
        return {**row, "rule": "empty", "score": 1.0}
    if switched(output, item["lang"], detected_lang, confidence):
        return {**row, "rule": "language_switch", "score": 1.0}
    if judge is not None:
        return {**row, "rule": "llm_judge", "score": float(judge.rate(item["prompt"], output).rating), "judge": judge.describe()}
    return {**row, "rule": "checkers", "score": rating}


# The scorer of each task of the study (study.toml's [tasks]; tests/test_study.py checks that every one has one).
SCORERS: dict[str, Callable[[dict[str, Any], str, str, Judge | None, float], dict[str, Any]]] = {
    "MR": _mr_row, "SM": _sm_row, "IF": _if_row,
}


def score(task: str, item: dict[str, Any], output: str, detected_lang: str = "und", judge: Judge | None = None,
          confidence: float = 1.0) -> dict[str, Any]:
    """The stored row of one example: reference, extracted answer, score and the rule used.

    MR: `strict_score` and `flexible_score` are lm-evaluation-harness's MGSM native-CoT readings and
    metric, exactly; `score` is the kit's reading (metrics.MRReading: the same two rules, first answer
    phrase else last number, with numbers read as the language writes them), which the figures use:
    lm-eval scores "La réponse est 3,5" as 35 and misses "The answer is $18" and "1 234" in strict.
    SM is ROUGE-L. IF is switch-aware (the paper's rule): an answer that the language identifier
    places in another language than the prompt's (with `confidence`; see `switched`) is rated 1
    whatever the checkers (or the judge) would say; an empty answer is rated 1. With a `judge`,
    the rating is the LLM judge's (the paper scale); else the world's checkers'.
    """
    if task not in SCORERS:
        raise ValueError(f"unknown task {task!r}")
    return SCORERS[task](item, output, detected_lang, judge, confidence)


def stop_strings(item: dict[str, Any]) -> list[str]:
    """A test item's stop strings (its `stop` field: a few-shot MGSM item's next-question label);
    the world's items have none, and end at end-of-sequence."""
    stop = item.get("stop", [])
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise InputError(f"test item {item.get('id')!r}: 'stop' is {stop!r}; give a list of non-empty strings")
    return stop


def stops_by_lang(tests: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each language's stop strings, for the evaluation's record (generate.stop_rule)."""
    found: dict[str, list[str]] = {}
    for t in tests:
        found.setdefault(t["lang"], [])
        found[t["lang"]] += [s for s in stop_strings(t) if s not in found[t["lang"]]]
    return found


def evaluate_task(model: Any, tokenizer: Any, test_path: Path, task: str, config: EvalConfig, judge: Judge | None = None,
                  progress: bool = False) -> list[dict[str, Any]]:
    """Generates an answer to every test item of `task` and scores it: one row per example."""
    return evaluate_items(model, tokenizer, read_jsonl(test_path), task, config, judge, progress)


def evaluate_items(model: Any, tokenizer: Any, tests: list[dict[str, Any]], task: str, config: EvalConfig,
                   judge: Judge | None = None, progress: bool = False) -> list[dict[str, Any]]:
    """Generates an answer to each of `tests` (items of `task`) and scores it: one row per item
    (`progress`: a bar of answers, tokens/s and time left)."""
    torch.set_num_threads(config.cpu_threads)  # as in training: CPU results depend on the thread count
    outputs = generate(model, tokenizer, [t["prompt"] for t in tests], config.max_new_tokens, config.batch, config.seq_len,
                       [stop_strings(t) for t in tests], progress)
    detected, confidence = identify_languages(outputs)
    if judge is not None and task == "IF":  # the judge's ratings, many requests at once (cached; the rows read them)
        judge.rate_all([(t["prompt"], out) for t, out, lang, conf in zip(tests, outputs, detected, confidence)
                        if out.strip() and not switched(out, t["lang"], lang, float(conf))])
    return [
        {"example_id": t["id"], "task": task, "lang": t["lang"], "prompt": t["prompt"], "output": out,
         "detected_lang": lang, **score(task, t, out, lang, judge, float(conf))}
        for t, out, lang, conf in zip(tests, outputs, detected, confidence)
    ]


def language_means(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean score per language, in sorted language order."""
    by_lang: dict[str, list[float]] = {}
    for r in rows:
        by_lang.setdefault(r["lang"], []).append(r["score"])
    return {lang: sum(v) / len(v) for lang, v in sorted(by_lang.items())}
