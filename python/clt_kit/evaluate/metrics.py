"""The paper's metrics as small functions: ROUGE-L (SM), final-number accuracy (MR), IF rating."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rouge_score import rouge_scorer

from clt_kit.world.checkers import followed

# Characters of scripts written without spaces become one token each.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+", re.UNICODE)


class ScriptAwareTokenizer:
    """Tokenizer for rouge-score: its default keeps only [a-z0-9], destroying non-Latin text.

    NFKC + lower case; Han, Kana and Hangul characters are tokens on their own; other scripts
    split into runs of word characters (letters, marks and digits of any script).
    """

    def tokenize(self, text: str) -> list[str]:
        return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


_SCORER = rouge_scorer.RougeScorer(["rougeL"], tokenizer=ScriptAwareTokenizer())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure with the script-aware tokenizer."""
    return _SCORER.score(reference, prediction)["rougeL"].fmeasure


@dataclass(frozen=True)
class Extracted:
    value: int | None
    span: str
    rule: str  # "answer_line", "last_number" or "none"


_NUMBER = re.compile(r"-?\d[\d,.\u00a0\u202f']*")


def _parse_number(span: str) -> int | None:
    digits = unicodedata.normalize("NFKC", span)
    digits = "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in digits)
    negative = digits.startswith("-")
    digits = digits.lstrip("-")
    for sep in (",", "\u00a0", "\u202f", "'"):
        digits = digits.replace(sep, "")
    if digits.count(".") == 1 and re.fullmatch(r"\d+\.0*", digits):
        digits = digits.split(".")[0]
    digits = digits.rstrip(".")
    if not digits.isdigit():
        return None
    value = int(digits)
    return -value if negative else value


def extract_answer(text: str, answer_prefix: str) -> Extracted:
    """The final answer: the number on the localized answer line, else the last number."""
    normalized = unicodedata.normalize("NFKC", text)
    prefix = answer_prefix.split("{n}")[0].strip()
    for line in reversed(normalized.splitlines()):
        if prefix and prefix in line:
            found = _NUMBER.findall(line.split(prefix, 1)[1])
            if found and (value := _parse_number(found[0])) is not None:
                return Extracted(value, found[0], "answer_line")
    found = _NUMBER.findall(normalized)
    for span in reversed(found):
        if (value := _parse_number(span)) is not None:
            return Extracted(value, span, "last_number")
    return Extracted(None, "", "none")


def if_rating(response: str, instructions: list[dict[str, Any]]) -> tuple[float, float]:
    """(rating 1-5, fraction of instructions followed): rating = 1 + 4 x fraction."""
    ok = followed(response, instructions)
    fraction = sum(ok) / len(ok) if ok else 0.0
    return 1.0 + 4.0 * fraction, fraction
