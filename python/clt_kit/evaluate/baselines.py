"""Trivial answerers: what a model must beat before its scores mean anything.

Each baseline answers every test item without a model, from the test set alone, and its answers
are scored by the same metric as a model's (tasks.score):
- MR `majority`: the most frequent answer of the test set (the best constant guess);
  `last_number`: the last number of the prompt.
- SM `lead`: the document's first sentence (the classic extractive baseline); `document`: the
  whole document.
- IF `other_reference`: the reference answer of the next test item of the same language
  (fluent, in the right language and format family, but written for other instructions).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from clt_kit.evaluate.tasks import language_means, score

Item = dict[str, Any]
_SENTENCE_END = re.compile(r"(?<=[.!?。！？؟])\s*")


def _majority(items: list[Item]) -> list[str]:
    counts = Counter(item["answer"] for item in items)
    best = min(counts, key=lambda answer: (-counts[answer], answer))  # ties: the smallest answer
    return [str(best)] * len(items)


def _last_number(items: list[Item]) -> list[str]:
    return [(re.findall(r"\d+", item["prompt"]) or [""])[-1] for item in items]


def _document(item: Item) -> str:
    """The document of an SM prompt: what follows its instruction line."""
    return item["prompt"].split("\n", 1)[-1]


def _lead(items: list[Item]) -> list[str]:
    return [_SENTENCE_END.split(_document(item), maxsplit=1)[0] for item in items]


def _other_reference(items: list[Item]) -> list[str]:
    by_lang: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_lang.setdefault(item["lang"], []).append(i)
    out = [""] * len(items)
    for indices in by_lang.values():
        for j, i in enumerate(indices):
            out[i] = items[indices[(j + 1) % len(indices)]]["response"]
    return out


BASELINES: dict[str, dict[str, Callable[[list[Item]], list[str]]]] = {
    "MR": {"majority": _majority, "last_number": _last_number},
    "SM": {"lead": _lead, "document": lambda items: [_document(item) for item in items]},
    "IF": {"other_reference": _other_reference},
}


def baseline_scores(task: str, items: list[Item]) -> dict[str, dict[str, float]]:
    """Mean score per language of each trivial baseline of `task` on the test `items`. The
    baselines answer in the prompt's language, so IF's switch rule never applies to them."""
    return {
        name: language_means([{"lang": item["lang"], **score(task, item, output, item["lang"])} for item, output in zip(items, answer(items))])
        for name, answer in BASELINES[task].items()
    }


def best_baseline(task: str, items: list[Item], lang: str) -> tuple[str, float]:
    """The strongest baseline of `task` in `lang`: (its name, its mean score)."""
    scores = {name: means[lang] for name, means in baseline_scores(task, [i for i in items if i["lang"] == lang]).items()}
    name = max(scores, key=lambda n: (scores[n], n))
    return name, scores[name]
