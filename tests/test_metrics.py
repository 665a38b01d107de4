"""Metrics: script-aware ROUGE-L, MR answer extraction (also on the real MGSM files), IF rating."""

from __future__ import annotations

import csv
from pathlib import Path

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
    assert ScriptAwareTokenizer().tokenize("한국어 ABC déjà") == ["한국어", "abc", "déjà"]  # Korean by words


def test_combining_marks_stay_in_their_word_and_optional_arabic_marks_go() -> None:
    tokenize = ScriptAwareTokenizer().tokenize
    assert tokenize("محمّد") == ["محمد"] == tokenize("محمد") == tokenize("مـحـمـد")  # shadda, tatweel
    assert tokenize("كَتَبَ الوَلَدُ") == ["كتب", "الولد"]
    assert tokenize("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]  # Devanagari vowel signs are marks, inside the word
    assert tokenize("e\u0301te\u0301") == ["été"]  # a decomposed accent: NFKC composes it
    assert rouge_l("محمّد ذهب", "محمد ذهب") == pytest.approx(1.0)
    assert tokenize("東京は大きい") == ["東", "京", "は", "大", "き", "い"]
    assert tokenize("서울은 크다") == ["서울은", "크다"]


def test_extract_answer_rules() -> None:
    assert extract_answer("3 + 4 = 7.\nThe answer is 7.").value == 7
    e = extract_answer("5 - 2 = 3.\n答えは３です。", "ja")
    assert (e.value, e.rule) == (3, "answer_line")
    e = extract_answer("It costs $29.00 in total")
    assert (e.value, e.span, e.rule) == (29, "29.00", "last_number")
    assert extract_answer("total 1,234 apples").value == 1234
    assert extract_answer("الجواب هو ٤٢.", "ar").value == 42
    assert extract_answer("no number").rule == "none"


@pytest.mark.skipif(not (SHARED / "data" / "mgsm").is_dir(), reason="../shared/data/mgsm is absent")
def test_mgsm_answers_parse_back() -> None:
    files = sorted((SHARED / "data" / "mgsm").glob("mgsm_*.tsv"))
    assert len(files) == 11
    for path in files:
        with path.open(encoding="utf-8") as f:
            for question, answer in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                assert extract_answer(f"... {answer}").value == int(answer.replace(",", "")), (path, answer)


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


@pytest.mark.parametrize("lang, text, value", [
    ("en", "The answer is 29.5.", 29.5),          # never the integer before the point
    ("en", "The answer is 29.00.", 29),           # a decimal, then the sentence's period
    ("en", "It costs $29.00.", 29),
    ("pt", "O total é R$ 29,00.", 29),            # decimal comma
    ("pt", "Custa R$ 1.234,50.", 1234.5),
    ("es", "Hay 1.234 manzanas.", 1234),          # period groups thousands in es/pt
    ("es", "Pesa 3,5 kilos.", 3.5),               # ... and the comma is the decimal mark
    ("fr", "Il y a 1\u202f234 pommes.", 1234),    # narrow no-break space (NFKC makes it a plain space)
    ("fr", "Il y a 1\u00a0234,5 kg.", 1234.5),    # no-break space, decimal comma
    ("fr", "Il y a 1 234 pommes.", 1234),         # plain space: French groups with it
    ("en", "There are 1,234 apples.", 1234),
    ("en", "It weighs 1.234 kg.", 1.234),
    ("ar", "الجواب هو ١٬٢٣٤.", 1234),             # Arabic thousands separator U+066C
    ("ar", "الجواب هو ٣٫٥.", 3.5),                # Arabic decimal separator U+066B
    ("en", "It takes 3-5 days.", 5),              # a range: not -5
    ("en", "x = -7", -7),
    ("en", "About 1.5e3 people.", 1500),          # an exponent: its value, not 3
    ("en", "That is 10^3.", 1000),
])
def test_numbers_as_each_language_writes_them(lang: str, text: str, value: float) -> None:
    from fractions import Fraction

    found = extract_answer(text, lang)
    assert found.value == Fraction(str(value)), (text, found)


def test_a_non_integer_final_answer_is_wrong_not_an_earlier_integer() -> None:
    from clt_kit.evaluate.tasks import score

    item = {"lang": "en", "answer": 29}
    row = score("MR", item, "Mia has 29 apples.\nShe eats half of one.\nThe answer is 29.5.")
    assert (row["score"], row["extracted"], row["rule"]) == (0.0, "29.5", "answer_line")
    assert score("MR", item, "30 - 1 = 29.5")["score"] == 0.0
    assert score("MR", item, "The answer is 29.00.")["score"] == 1.0


def test_mr_stores_the_strict_and_the_flexible_reading() -> None:
    from clt_kit.evaluate.tasks import score

    item = {"lang": "en", "answer": 14}
    checked = score("MR", item, "5 + 9 = 14.\nThe answer is 14.\nCheck: 14 - 3 = 11.")
    assert (checked["score"], checked["strict_score"], checked["flexible_score"]) == (1.0, 1.0, 0.0)
    no_line = score("MR", item, "5 + 9 = 14")
    assert (no_line["score"], no_line["strict_score"], no_line["flexible_score"], no_line["rule"]) == (1.0, 0.0, 1.0, "last_number")


@pytest.mark.parametrize("answer", ["", "   ", "\n\t \n"])
def test_an_empty_answer_is_rated_1_and_follows_nothing(answer: str) -> None:
    from clt_kit.evaluate.tasks import score
    from clt_kit.world.checkers import followed

    instructions = [{"type": "length", "unit": "words", "max": 50}, {"type": "keyword", "kw": ""}]
    assert followed(answer, instructions) == [False, False]
    assert if_rating(answer, instructions) == (1.0, 0.0)
    row = score("IF", {"lang": "en", "response": "x", "instructions": instructions}, answer, detected_lang="und")
    assert (row["score"], row["rule"]) == (1.0, "empty")


@pytest.mark.parametrize("answer, detected, confidence", [
    ("Sure!", "fr", 1.0), ("Done.", "fr", 0.69), ("Claro!", "es", 0.65), ('"Merci !"', "es", 0.62),
    ("This is a long enough English answer.", "en", 0.5),  # long, but not clear
])
def test_short_or_unclear_answers_do_not_fire_the_switch_rule(answer: str, detected: str, confidence: float) -> None:
    from clt_kit.evaluate.tasks import score

    item = {"lang": "pt", "response": "x", "instructions": [{"type": "length", "unit": "words", "max": 50}]}
    row = score("IF", item, answer, detected_lang=detected, confidence=confidence)
    assert row["rule"] == "checkers" and row["score"] == 5.0
    clear = score("IF", item, "This is a long enough English answer.", detected_lang="en", confidence=0.95)
    assert (clear["rule"], clear["score"]) == ("language_switch", 1.0)


# Hostile answers, with lm-evaluation-harness's MGSM native-CoT readings of each (strict, flexible)
# and the kit's number (its `score` reading): hand-checked against lm-eval's filters by
# test_the_readings_are_lm_evals_own_filters and benchmarks/mr_parity.py.
HOSTILE = [
    ("en", "The answer is 3.\n\nQuestion: What is 2 + 2? The answer is 1000.", "3.", "1000.", 1000),
    ("ja", "ステップごとの答えは32-23=15", "[invalid]", "15", 15),             # a label, not the answer phrase
    ("ja", "32-23=9。答えは9です。", "9", "9", 9),
    ("ja", "答えは９です。", "[invalid]", "[invalid]", 9),                      # full-width digit: lm-eval reads none
    ("zh", "答案是 18。", "18", "18", 18),
    ("zh", "答案是18。", "[invalid]", "18", 18),                               # lm-eval's zh phrase has a space
    ("fr", "La réponse est 3,5.", "3,5.", "3,5.", 3.5),                        # decimal comma: lm-eval reads 35
    ("es", "La respuesta es 1.234.", "1.234.", "1.234.", 1234),               # grouping period: lm-eval reads 1234 too
    ("en", "The answer is $18.", "[invalid]", "$18.", 18),                     # currency: strict misses it
    ("fr", "La réponse est 1 234.", "1", "234.", 1234),                         # spaced grouping
    ("en", "So 5 + 3 = 8 ...", "[invalid]", "...", 8),                          # flexible takes the ellipsis
    ("en", "The answer is -5.", "-5.", "-5.", -5),
    ("en", "no number at all", "[invalid]", "[invalid]", None),
]


@pytest.mark.parametrize("lang, text, strict, flexible, kit", HOSTILE)
def test_mr_readings_of_hostile_answers(lang: str, text: str, strict: str, flexible: str, kit: float | None) -> None:
    from fractions import Fraction

    from clt_kit.evaluate.metrics import read_mr_answer

    reading = read_mr_answer(text, lang)
    assert (reading.strict, reading.flexible) == (strict, flexible)
    assert reading.used.value == (None if kit is None else Fraction(str(kit)))


def test_the_issue_examples_are_read_as_lm_eval_reads_them() -> None:
    from clt_kit.evaluate.tasks import score

    looped = score("MR", {"lang": "en", "answer": 3}, "The answer is 3.\n\nQuestion: Tom has 1000 ... The answer is 1000.")
    assert looped["strict_score"] == 1.0  # the first full-pattern match (was 0: the last line, 1000)
    labelled = score("MR", {"lang": "ja", "answer": 15}, "ステップごとの答えは32-23=15")
    assert (labelled["score"], labelled["strict_score"], labelled["flexible_score"]) == (1.0, 0.0, 1.0)  # was 32 (score 0, strict 0)


def test_lm_eval_metric_ignores_case_and_punctuation() -> None:
    from clt_kit.evaluate.metrics import lm_eval_match

    assert lm_eval_match("18.", "18") and lm_eval_match("$1,800", "1800") and lm_eval_match("-5", "5")
    assert not lm_eval_match("[invalid]", "18") and not lm_eval_match("...", "8")


def test_the_readings_are_lm_evals_own_filters() -> None:
    """The kit's strict and flexible readings equal lm-eval's RegexFilter (and exact_match) on the
    hostile answers, with lm-eval's task definitions (the `bench` dependency group)."""
    extraction = pytest.importorskip("lm_eval.filters.extraction")
    metrics = pytest.importorskip("lm_eval.api.metrics")
    from clt_kit.evaluate.metrics import MGSM_NATIVE_COT, lm_eval_match, read_mr_answer

    for lang, text, *_ in HOSTILE:
        strict = extraction.RegexFilter(regex_pattern=MGSM_NATIVE_COT["languages"][lang]["strict"])
        flexible = extraction.RegexFilter(regex_pattern=MGSM_NATIVE_COT["flexible"], group_select=-1)
        reading = read_mr_answer(text, lang)
        assert (reading.strict, reading.flexible) == (list(strict.apply([[text]], [{}]))[0][0], list(flexible.apply([[text]], [{}]))[0][0])
        for reference in ("3", "15", "18", "35", "1234", "8", "-5"):
            for mine in (reading.strict, reading.flexible):
                theirs = metrics.exact_match_hf_evaluate([mine], [reference], ignore_case=True, ignore_punctuation=True)["exact_match"]
                assert lm_eval_match(mine, reference) == bool(theirs), (mine, reference)


def test_the_mr_format_data_is_lm_evals_mgsm_native_cot_task() -> None:
    """mgsm_native_cot.json against lm-eval's own task files (installed with lm-eval)."""
    pytest.importorskip("lm_eval")
    yaml = pytest.importorskip("yaml")
    import lm_eval

    from clt_kit.evaluate.metrics import MGSM_NATIVE_COT

    folder = Path(lm_eval.__file__).parent / "tasks" / "mgsm" / "native_cot"
    for lang, entry in MGSM_NATIVE_COT["languages"].items():
        if entry["source"] != "lm-evaluation-harness":
            assert not (folder / f"mgsm_native_cot_{lang}.yaml").exists()
            continue
        task = yaml.safe_load((folder / f"mgsm_native_cot_{lang}.yaml").read_text(encoding="utf-8"))
        filters = {f["name"]: f["filter"][0] for f in task["filter_list"]}
        assert filters["strict-match"]["regex_pattern"] == entry["strict"]
        assert (filters["flexible-extract"]["regex_pattern"], filters["flexible-extract"]["group_select"]) == (MGSM_NATIVE_COT["flexible"], -1)
        assert task["generation_kwargs"]["until"][0] == entry["question_label"]
