"""The paper's metrics as small functions: ROUGE-L (SM), final-number accuracy (MR), IF rating."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from rouge_score import rouge_scorer

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
    """The number a rule read from an answer (`value`, exact), the text it read (`span`) and the
    rule: "answer_line" (after the language's answer phrase), "last_number" or "none"."""

    value: Fraction | None
    span: str
    rule: str


@dataclass(frozen=True)
class MRReading:
    """Both of lm-evaluation-harness's MGSM readings of one answer: `strict`, the number on the
    language's answer line ("The answer is N."), and `flexible`, the last number of the answer;
    `used` is what the kit scores: the answer line when there is one, else the last number."""

    strict: Extracted
    flexible: Extracted

    @property
    def used(self) -> Extracted:
        return self.strict if self.strict.value is not None else self.flexible


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
        value = _body_value(m["body"], lang)
        if value is None:
            continue
        if m["exp"] is not None:
            value *= Fraction(10) ** int(m["exp"])
        elif m["pow"] is not None:
            if int(m["pow"]) > 100:
                continue
            value **= int(m["pow"])
        if m["sign"]:
            value = -value
        found.append((value, m.group(0).replace(GROUP_SPACE, " ")))
    return found


def read_mr_answer(text: str, answer_prefix: str, lang: str = "en") -> MRReading:
    """Both readings of an MR answer (MRReading). The answer line is the last line holding the
    language's answer phrase (the part of `answer_prefix` before {n}); its first number is the
    strict answer. A non-integer answer stays what it is: 29.5 is never read as 29."""
    normalized = normalize_numbers(text, lang)
    prefix = normalize_numbers(answer_prefix.split("{n}")[0], lang).strip()
    strict = Extracted(None, "", "none")
    for line in reversed(normalized.splitlines()):
        if prefix and prefix in line and (after := numbers(line.split(prefix, 1)[1], lang)):
            strict = Extracted(after[0][0], after[0][1], "answer_line")
            break
    everything = numbers(normalized, lang)
    flexible = Extracted(everything[-1][0], everything[-1][1], "last_number") if everything else Extracted(None, "", "none")
    return MRReading(strict, flexible)


def extract_answer(text: str, answer_prefix: str, lang: str = "en") -> Extracted:
    """The number the kit scores (MRReading.used): on the answer line, else the last number."""
    return read_mr_answer(text, answer_prefix, lang).used


def if_rating(response: str, instructions: list[dict[str, Any]]) -> tuple[float, float]:
    """(rating 1-5, fraction of instructions followed): rating = 1 + 4 x fraction."""
    ok = followed(response, instructions)
    fraction = sum(ok) / len(ok) if ok else 0.0
    return 1.0 + 4.0 * fraction, fraction
