"""Trivial baselines: hand-checked answers on small item sets, and real scores on a world's tests."""

from __future__ import annotations

from clt_kit.evaluate.baselines import BASELINES, baseline_scores, best_baseline
from clt_kit.jsonio import read_jsonl
from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.study import TASKS


def test_mr_majority_is_the_most_frequent_answer_and_last_number_reads_the_prompt() -> None:
    items = [{"lang": "en", "prompt": f"Tom has {a} eggs. Tom buys {b} more eggs.", "answer": a + b}
             for a, b in [(1, 2), (2, 1), (4, 5)]]
    assert BASELINES["MR"]["majority"](items) == ["3", "3", "3"]
    assert BASELINES["MR"]["last_number"](items) == ["2", "1", "5"]
    scores = baseline_scores("MR", items)
    assert scores["majority"]["en"] == 2 / 3 and scores["last_number"]["en"] == 0.0


def test_sm_lead_is_the_first_sentence_of_the_document() -> None:
    items = [
        {"lang": "en", "prompt": "Summarize the text.\nA fair opened in Lyon. It lasted 3 days.", "response": "A fair opened in Lyon."},
        {"lang": "ja", "prompt": "要約してください。\n東京で祭りが開かれた。3日間続いた。", "response": "東京で祭りが開かれた。"},
    ]
    assert BASELINES["SM"]["lead"](items) == ["A fair opened in Lyon.", "東京で祭りが開かれた。"]
    assert baseline_scores("SM", items)["lead"] == {"en": 1.0, "ja": 1.0}


def test_if_other_reference_comes_from_the_same_language() -> None:
    items = [{"lang": lang, "response": f"{lang}{i}", "instructions": []} for i in range(2) for lang in ("en", "fr")]
    assert BASELINES["IF"]["other_reference"](items) == ["en1", "fr1", "en0", "fr0"]


def test_every_task_has_baselines_scored_in_every_language(smoke_world) -> None:
    for task in TASKS:
        items = read_jsonl(smoke_world.test(task))
        for name, means in baseline_scores(task, items).items():
            assert set(means) == set(PAPER_LANGUAGES), (task, name)
        name, value = best_baseline(task, items, "en")
        assert name in BASELINES[task] and value == max(m["en"] for m in baseline_scores(task, items).values())
