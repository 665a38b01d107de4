"""The paper's metrics as small functions: ROUGE-L (SM), final-number accuracy (MR), IF rating."""

from __future__ import annotations

import functools
import json
import re
import string
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from rouge_score import rouge_scorer

from clt_kit.jsonio import InputError
from clt_kit.world.checkers import followed

# Han and Kana: scripts written without spaces, so each character is a token of its own.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Arabic tatweel (a stretching stroke) and the optional vowel and shadda marks (harakat).
_ARABIC_OPTIONAL = re.compile("[\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")


class ScriptAwareTokenizer:
    """Tokenizer for rouge-score: its default keeps only [a-z0-9], destroying non-Latin text.

    NFKC + lower case; Arabic tatweel and harakat removed ("محمّد" is "محمد": the marks are
    optional in writing); Han and Kana characters are tokens on their own; every other script
    splits into words, runs of letters, combining marks and digits, so a mark stays in its word.
    Korean is tokenized by its space-separated words, as the multilingual ROUGE scorer of XL-Sum's
    authors does (Hangul is written with spaces between words; a syllable is not a word, and
    scoring syllables would put Korean on a scale several times above the other languages').
    """

    def tokenize(self, text: str) -> list[str]:
        text = _ARABIC_OPTIONAL.sub("", unicodedata.normalize("NFKC", text).lower())
        tokens: list[str] = []
        word: list[str] = []
        for ch in text:
            if _UNSPACED.match(ch):
                tokens += ["".join(word), ch] if word else [ch]
                word = []
            elif unicodedata.category(ch)[0] in "LMN":
                word.append(ch)
            elif word:
                tokens.append("".join(word))
                word = []
        return tokens + (["".join(word)] if word else [])


_SCORER = rouge_scorer.RougeScorer(["rougeL"], tokenizer=ScriptAwareTokenizer())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure with the script-aware tokenizer."""
    return _SCORER.score(reference, prediction)["rougeL"].fmeasure


@dataclass(frozen=True)
class Extracted:
    """The number the kit read from an answer (`value`, exact), the text it read (`span`) and the
    rule: "answer_line" (the language's whole answer phrase around the number), "last_number" or "none"."""

    value: Fraction | None
    span: str
    rule: str


# lm-evaluation-harness's MGSM native-CoT task as data (the file says what each field means).
MGSM_NATIVE_COT: dict[str, Any] = json.loads(Path(__file__).with_name("mgsm_native_cot.json").read_text(encoding="utf-8"))
LM_EVAL_INVALID = "[invalid]"  # what lm-eval's regex filter answers when its pattern finds nothing
_FLEXIBLE = re.compile(MGSM_NATIVE_COT["flexible"])
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)


def mr_format(lang: str) -> dict[str, Any]:
    """The MGSM native-CoT entry of `lang` (mgsm_native_cot.json): its strict pattern and question label."""
    try:
        return dict(MGSM_NATIVE_COT["languages"][lang])
    except KeyError:
        raise InputError(f"no MR answer format for language {lang!r} in {Path(__file__).with_name('mgsm_native_cot.json')};"
                         f" it has {', '.join(MGSM_NATIVE_COT['languages'])}: add an entry for {lang!r}") from None


def lm_eval_strict(text: str, lang: str) -> str:
    """lm-evaluation-harness's strict-match reading: the group of the first match of the language's
    answer pattern ("The answer is (N)", "答えは(N)です。", ...), stripped; "[invalid]" when none."""
    found = re.search(mr_format(lang)["strict"], text)
    return found.group(1).strip() if found else LM_EVAL_INVALID


def lm_eval_flexible(text: str) -> str:
    """lm-evaluation-harness's flexible-extract reading: the last run of digits (with "$", "." and
    ",", two characters or more, or digits alone), stripped; "[invalid]" when none."""
    found = _FLEXIBLE.findall(text)
    if not found:
        return LM_EVAL_INVALID
    return next((group for group in found[-1] if group), LM_EVAL_INVALID).strip()


def lm_eval_match(extracted: str, reference: str) -> bool:
    """lm-evaluation-harness's MGSM metric: exact match ignoring case and ASCII punctuation
    ("18." and "$18" are 18; so is "1,8", and "-5" is 5)."""
    return extracted.lower().translate(_NO_PUNCTUATION) == reference.lower().translate(_NO_PUNCTUATION)


@dataclass(frozen=True)
class MRReading:
    """Three readings of one MR answer. `strict` and `flexible` are lm-evaluation-harness's MGSM
    native-CoT readings, exactly (the text its filters extract, "[invalid]" for none; scored with
    `lm_eval_match`). `kit` is what the kit scores: the number inside the language's whole answer
    phrase (its last occurrence: a model that corrects itself ends on its answer, and the kit's
    stored results were read so; lm-eval takes the first), else the last number, each number read as
    the language writes numbers ("3,5" is 3.5 in French, "1.234" is 1234 in Spanish, "$18" and
    "1 234" are numbers), where lm-eval reads "3,5" as 35 and drops a number in a currency or spaced."""

    strict: str
    flexible: str
    kit: Extracted

    @property
    def used(self) -> Extracted:
        return self.kit


# How each language writes numbers: the characters that group thousands, and the decimal mark
# (the kit's 8 languages; any other language reads as English). After NFKC, the no-break and
# narrow no-break spaces of French grouping are plain spaces; GROUP_SPACE marks them before.
_DECIMAL_COMMA = {"es", "fr", "pt", "de", "it", "ru"}
GROUP_SPACE = "\u2060"  # word joiner: a space between digit groups, kept through NFKC
_GROUPING_SPACES = "\u00a0\u202f\u2009"  # written only between digit groups
_SPACE_GROUPED = {"fr"}  # languages whose plain spaces group digits too ("1 234")
# A number: digits with single separators between them (grouping or decimal), and an exponent.
_NUMERAL = re.compile(
    "(?P<sign>(?<![\\w.,\u066b\u066c])[-\u2212])?"
    "(?P<body>\\d(?:[.,'\u066b\u066c" + GROUP_SPACE + "]?\\d)*)"
    "(?:(?:[eE](?P<exp>[+-]?\\d+))|(?:\\^(?P<pow>\\d+)))?"
)


def _ascii_digits(text: str) -> str:
    """Every decimal digit of any script as 0-9 (Arabic-Indic, full width, ...)."""
    return "".join(str(unicodedata.digit(c)) if c.isdigit() and not c.isascii() else c for c in text)


def normalize_numbers(text: str, lang: str = "en") -> str:
    """NFKC with digits as 0-9, and the spaces that group digits before a group of three (no-break,
    narrow no-break and thin spaces; plain ones in languages that group with them) kept as
    GROUP_SPACE instead of becoming plain spaces."""
    spaces = _GROUPING_SPACES + (" " if lang in _SPACE_GROUPED else "")
    grouped = re.sub(f"(?<=\\d)[{spaces}](?=\\d{{3}}(?!\\d))", GROUP_SPACE, text)
    return _ascii_digits(unicodedata.normalize("NFKC", grouped))


def _body_value(body: str, lang: str) -> Fraction | None:
    """The value of a numeral's digits and separators, read as `lang` writes numbers; None when
    the separators fit no way of writing a number (groups that are not of three digits)."""
    decimal_comma = lang in _DECIMAL_COMMA
    if "\u066b" in body:  # the Arabic decimal separator; U+066C groups
        whole, _, frac = body.partition("\u066b")
        return _grouped(whole, "\u066c,.'" + GROUP_SPACE, frac)
    marks = [c for c in body if c in ".,"]
    if not marks:
        return _grouped(body, "\u066c'" + GROUP_SPACE, "")
    last = marks[-1]
    whole, _, frac = body.rpartition(last)
    other = {".": ",", ",": "."}[last]
    if other in whole or marks.count(last) == 1 and len(frac) != 3:
        # "1,234.5", "1.234,5": the last mark is the decimal one; "29.5", "3,5", "29.00": no group of three
        return _grouped(whole, other + "\u066c'" + GROUP_SPACE, frac)
    if marks.count(last) > 1:  # "1,234,567", "1.234.567": grouping only
        return _grouped(body, last + "\u066c'" + GROUP_SPACE, "")
    # one mark, three digits after it: grouping where the language groups with it, else decimal
    groups_with = "." if decimal_comma else ","
    if last == groups_with:
        return _grouped(body, last + "\u066c'" + GROUP_SPACE, "")
    return _grouped(whole, "\u066c'" + GROUP_SPACE, frac)


def _grouped(whole: str, separators: str, frac: str) -> Fraction | None:
    """The value of `whole` (digits, grouped in threes by any of `separators`) and `frac`."""
    parts = re.split("[" + re.escape(separators) + "]", whole)
    if len(parts) > 1 and (not 1 <= len(parts[0]) <= 3 or any(len(p) != 3 for p in parts[1:])):
        return None
    digits = "".join(parts)
    if not digits.isdigit() or (frac and not frac.isdigit()):
        return None
    return Fraction(int(digits)) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)


def numbers(text: str, lang: str = "en") -> list[tuple[Fraction, str]]:
    """(value, span) of every number in `text`, in order, read as `lang` writes numbers:
    thousands separators ("1,234", "1.234" in es/pt, "1 234" in fr, U+066C), decimal marks
    ("29.5", "3,5" in es/fr/pt, U+066B), a sentence's period after a number ("29.00."), currency
    signs around it, exponents ("1.5e3", "10^3": their value) and signs only where a minus
    stands alone ("3-5" is a range, not -5)."""
    found = []
    for m in _NUMERAL.finditer(normalize_numbers(text, lang)):
        if (read := _reading(m, 0, lang)) is not None:
            found.append(read)
    return found


def _reading(m: re.Match[str], numeral: int | str, lang: str) -> tuple[Fraction, str] | None:
    """(value, span) of the `_NUMERAL` that `m` matched (its group `numeral`: 0 when `m` is the
    numeral alone); None when its separators fit no way of writing a number, or its power is absurd."""
    value = _body_value(m["body"], lang)
    if value is None:
        return None
    if m["exp"] is not None:
        value *= Fraction(10) ** int(m["exp"])
    elif m["pow"] is not None:
        if int(m["pow"]) > 100:
            return None
        value **= int(m["pow"])
    if m["sign"]:
        value = -value
    return value, m.group(numeral).replace(GROUP_SPACE, " ")


# Currency signs the kit lets stand before the number of an answer phrase ("The answer is $18").
_CURRENCY = "$€£¥₹₩₽฿"


@functools.lru_cache(maxsize=None)
def _answer_phrase(lang: str) -> re.Pattern[str]:
    """The language's whole answer phrase with the kit's numeral in it: the strict pattern's text
    before and after its number, any spaces around the number (the world writes "答案是5。", MGSM's
    exemplars "答案是 5。") and a currency sign before it."""
    fmt = mr_format(lang)
    before, after = (re.sub(r"\\(.)", r"\1", part).strip() for part in fmt["strict"].split(MGSM_NATIVE_COT["number_group"]))
    before, after = (normalize_numbers(part, lang) for part in (before, after))
    return re.compile(re.escape(before) + f"\\s*[{_CURRENCY}]?\\s*(?P<numeral>{_NUMERAL.pattern})\\s*" + re.escape(after))


def read_mr_answer(text: str, lang: str = "en") -> MRReading:
    """The readings of an MR answer (MRReading), on the answer as stored (cut at the task's stop
    strings). lm-eval's read the text as it is; the kit's reads it with digits of every script as
    0-9 and NFKC (full-width digits and spaces), and keeps a non-integer what it is: 29.5 is never 29."""
    normalized = normalize_numbers(text, lang)
    kit = Extracted(None, "", "none")
    phrases = [read for found in _answer_phrase(lang).finditer(normalized) if (read := _reading(found, "numeral", lang))]
    if phrases:
        kit = Extracted(phrases[-1][0], phrases[-1][1], "answer_line")
    elif everything := numbers(normalized, lang):
        kit = Extracted(everything[-1][0], everything[-1][1], "last_number")
    return MRReading(lm_eval_strict(text, lang), lm_eval_flexible(text), kit)


def extract_answer(text: str, lang: str = "en") -> Extracted:
    """The number the kit scores (MRReading.used): in the last answer phrase, else the last number."""
    return read_mr_answer(text, lang).used


def if_rating(response: str, instructions: list[dict[str, Any]]) -> tuple[float, float]:
    """(rating 1-5, fraction of instructions followed): rating = 1 + 4 x fraction."""
    ok = followed(response, instructions)
    fraction = sum(ok) / len(ok) if ok else 0.0
    return 1.0 + 4.0 * fraction, fraction
