"""Metrics: script-aware ROUGE-L, MR answer extraction (also on the real MGSM files), IF rating."""

from __future__ import annotations

import csv

import pytest

from clt_kit.evaluate.metrics import ScriptAwareTokenizer, extract_answer, if_rating, rouge_l
from tests.conftest import SHARED

SENTENCES = {
    "en": "The festival lasted six days.",
    "es": "El festival duró seis días.",
    "fr": "Le festival a duré six jours.",
    "pt": "O festival durou seis dias.",
    "ja": "祭りは六日間続きました。",
    "zh": "节日活动持续了六天。",
    "ko": "축제는 육 일 동안 계속되었습니다.",
    "ar": "استمر المهرجان ستة أيام.",
}


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_identical_strings_score_one(lang: str) -> None:
    assert rouge_l(SENTENCES[lang], SENTENCES[lang]) == pytest.approx(1.0)


def test_partial_overlaps_hand_computed() -> None:
    # en: reference 5 tokens, prediction 4, LCS "the festival lasted days" = 4 -> P=1, R=4/5, F=8/9.
    assert rouge_l("the festival lasted days", "The festival lasted six days.") == pytest.approx(8 / 9)
    # zh: characters; reference 节日持续了六天 (7), prediction 节日持续六天 (6), LCS 6 -> P=1, R=6/7, F=12/13.
    assert rouge_l("节日持续六天", "节日持续了六天") == pytest.approx(12 / 13)
    # ja: 東京で祭り (5 chars) vs 京都で祭り (5): LCS 京で祭り = 4 -> F = 4/5.
    assert rouge_l("京都で祭り", "東京で祭り") == pytest.approx(4 / 5)
    assert ScriptAwareTokenizer().tokenize("한국어 ABC déjà") == ["한", "국", "어", "abc", "déjà"]


def test_extract_answer_rules() -> None:
    assert extract_answer("3 + 4 = 7.\nThe answer is 7.", "The answer is {n}.") .value == 7
    e = extract_answer("5 - 2 = 3.\n答えは３です。", "答えは{n}です。")
    assert (e.value, e.rule) == (3, "answer_line")
    e = extract_answer("It costs $29.00 in total", "The answer is {n}.")
    assert (e.value, e.span, e.rule) == (29, "29.00", "last_number")
    assert extract_answer("total 1,234 apples", "x {n}").value == 1234
    assert extract_answer("الجواب هو ٤٢.", "الجواب هو {n}.").value == 42
    assert extract_answer("no number", "The answer is {n}.").rule == "none"


@pytest.mark.skipif(not (SHARED / "data" / "mgsm").is_dir(), reason="../shared/data/mgsm is absent")
def test_mgsm_answers_parse_back() -> None:
    files = sorted((SHARED / "data" / "mgsm").glob("mgsm_*.tsv"))
    assert len(files) == 11
    for path in files:
        with path.open(encoding="utf-8") as f:
            for question, answer in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                assert extract_answer(f"... {answer}", "{n}").value == int(answer.replace(",", "")), (path, answer)


def test_if_rating() -> None:
    instructions = [{"type": "keyword", "kw": "river"}, {"type": "quotes"}]
    assert if_rating('"A river."', instructions) == (5.0, 1.0)
    assert if_rating("A river.", instructions) == (3.0, 0.5)
    assert if_rating("Nothing.", instructions) == (1.0, 0.0)


def test_if_is_switch_aware() -> None:
    from clt_kit.evaluate.tasks import score

    item = {"lang": "es", "response": "x", "instructions": [{"type": "quotes"}]}
    assert score("IF", item, '"hola"', detected_lang="es")["score"] == 5.0
    switched = score("IF", item, '"hello there my friend"', detected_lang="en")
    assert (switched["score"], switched["rule"]) == (1.0, "language_switch")
    assert score("IF", item, '"ok"', detected_lang="und")["score"] == 5.0  # too short to judge: checkers decide
