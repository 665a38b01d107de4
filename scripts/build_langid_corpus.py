"""Writes the language identifier's training text under rust/langid/, for each n-gram language:

    <lang>.cldr.txt    the CLDR strings (through Babel): names, months, units, date fields;
    <lang>.words.txt   the WORDS most frequent words of the language (wordfreq's lists, drawn from
                       Wikipedia, subtitles, news, books, the web), one a line, the most frequent
                       written more than once (REPEATS) so that the word model sees them as common.

Run with the project's environment and the `data` group (wordfreq):
    .tools/bin/uv sync --frozen --group dev --group data --inexact
    .venv/bin/python scripts/build_langid_corpus.py
The output is committed, so that the Rust crate builds and tests on its own; rerunning with the
same Babel and wordfreq versions rewrites the same bytes. The handwritten `<lang>.common.txt`
files beside them (frequent words and everyday sentences) are the rest of the training text.
Measured on real text (benchmarks/langid_accuracy.py, docs/benchmarks.md): the word lists raised
accuracy from 94.7% to 96.7% overall and from 91.9% to 94.6% under 20 characters.
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale

LANGS = ("en", "es", "fr", "pt", "ja", "zh")
OUT = Path(__file__).resolve().parents[1] / "rust" / "langid"
WORDS = 5000
# (rank below which, times written): the 100 most frequent words 8 times, then 5, 3 and 1
# (chosen on benchmarks/data/langid_real.tsv among flat and steeper schemes: 8/5/3/1 and 16/10/5/2/1
# scored best, within 0.1 point of each other).
REPEATS = ((100, 8), (500, 5), (2000, 3), (WORDS, 1))


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


def word_lines(code: str) -> list[str]:
    """The WORDS most frequent words with a letter in them, repeated by rank (REPEATS)."""
    from wordfreq import top_n_list

    words = [w for w in top_n_list(code, WORDS * 2) if any(c.isalpha() for c in w)][:WORDS]
    return [w for rank, w in enumerate(words) for _ in range(next(n for limit, n in REPEATS if rank < limit))]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for code in LANGS:
        lines = cldr_lines(code)
        (OUT / f"{code}.cldr.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        words = word_lines(code)
        (OUT / f"{code}.words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
        print(f"{code}: {len(lines)} CLDR lines, {len(words)} word lines")


if __name__ == "__main__":
    main()
