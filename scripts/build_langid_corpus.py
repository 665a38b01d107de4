"""Writes rust/langid/<lang>.cldr.txt: the CLDR strings (through Babel) that train the language identifier.

Run with the project's environment:  .venv/bin/python scripts/build_langid_corpus.py
The output is committed, so that the Rust crate builds and tests on its own; rerunning with the
same Babel version rewrites the same bytes. The handwritten `<lang>.common.txt` files beside them
(frequent words and everyday sentences) are the other half of the training text.
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale

LANGS = ("en", "es", "fr", "pt", "ja", "zh")
OUT = Path(__file__).resolve().parents[1] / "rust" / "langid"


def _strings(value: object) -> list[str]:
    """Every string inside a (possibly nested) CLDR mapping, in key order."""
    if isinstance(value, str):
        return [value]
    if hasattr(value, "items"):
        out: list[str] = []
        for key in sorted(value.keys(), key=str):  # type: ignore[union-attr]
            out += _strings(value[key])  # type: ignore[index]
        return out
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def cldr_lines(code: str) -> list[str]:
    loc = Locale.parse(code)
    parts = [
        loc.territories, loc.languages, loc.scripts, loc.currencies, loc.months, loc.days,
        loc._data["unit_display_names"], loc._data["unit_patterns"], loc._data["date_fields"],
        loc._data["time_zones"], loc._data["meta_zones"],
    ]
    lines: list[str] = []
    for part in parts:
        for s in _strings(part):
            text = s.replace("{0}", " ").replace("{1}", " ").strip()
            if any(c.isalpha() for c in text):
                lines.append(" ".join(text.split()))
    return sorted(set(lines))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for code in LANGS:
        lines = cldr_lines(code)
        (OUT / f"{code}.cldr.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{code}: {len(lines)} lines")


if __name__ == "__main__":
    main()
