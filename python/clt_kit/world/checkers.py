"""Verifiable instructions (IFEval style): each checker says whether a response follows one."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Instruction = dict[str, Any]  # {"type": ..., plus the type's parameters}


def _lines(response: str) -> list[str]:
    return [line.strip() for line in response.strip().splitlines() if line.strip()]


def _keyword(response: str, instr: Instruction) -> bool:
    return instr["kw"] in response


def _end(response: str, instr: Instruction) -> bool:
    return response.strip().strip('"').rstrip().endswith(instr["phrase"])


def _items(response: str, instr: Instruction) -> bool:
    body = response.strip().strip('"')
    items = [line for line in _lines(body) if line.startswith("- ")]
    return len(items) == instr["n"]


def count_units(text: str, unit: str) -> int:
    """Length as the language counts it: "words" (runs of letters and digits) or "chars"
    (letters and digits, for scripts written without spaces)."""
    if unit == "chars":
        return sum(c.isalnum() for c in text)
    return len(re.findall(r"\w+", text))


def _length(response: str, instr: Instruction) -> bool:
    return count_units(response, instr["unit"]) <= instr["max"]


def _quotes(response: str, instr: Instruction) -> bool:
    text = response.strip()
    return len(text) >= 2 and text.startswith('"') and text.endswith('"')


CHECKERS: dict[str, Callable[[str, Instruction], bool]] = {
    "keyword": _keyword,
    "end": _end,
    "items": _items,
    "quotes": _quotes,
    "length": _length,
}


def followed(response: str, instructions: list[Instruction]) -> list[bool]:
    """For each instruction, whether `response` follows it. An empty (or all-space) response
    follows none: saying nothing is not keeping under a length bound."""
    if not response.strip():
        return [False] * len(instructions)
    return [CHECKERS[i["type"]](response, i) for i in instructions]
