"""Build benchmarks/data/langid_real.tsv: real sentences in the kit's 8 languages, held apart from
the language identifier's training text (CLDR strings and common words, rust/langid/), to measure
language identification on real text (benchmarks/langid_accuracy.py).

From the test split of one Universal Dependencies treebank per language (its `# text =` lines):
every sentence of 3 characters or more, up to SENTENCES per language in file order, and a short
fragment of each (its first 3 words; its first 8 characters in ja and zh, written without
spaces), so that texts under 20 characters are measured too.

    .venv/bin/python scripts/build_langid_eval.py en=PATH/en_ewt-ud-test.conllu es=... ar=...

The treebanks used, their commits and licenses are in benchmarks/data/README.md.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "langid_real.tsv"
LANGUAGES = ("en", "es", "fr", "pt", "ja", "zh", "ko", "ar")
SENTENCES = 500
UNSPACED = {"ja", "zh"}


def sentences(conllu: Path) -> list[str]:
    """The `# text =` lines of a CoNLL-U file, in order."""
    with conllu.open(encoding="utf-8") as f:
        return [line.removeprefix("# text = ").strip() for line in f if line.startswith("# text = ")]


def fragment(text: str, lang: str) -> str:
    return text[:8] if lang in UNSPACED else " ".join(text.split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("treebanks", nargs="+", help="LANG=PATH of a treebank's test .conllu file, one per language")
    args = parser.parse_args()
    paths = dict(item.split("=", 1) for item in args.treebanks)
    if missing := [lang for lang in LANGUAGES if lang not in paths]:
        raise SystemExit(f"no treebank given for {', '.join(missing)}")
    rows = []
    for lang in LANGUAGES:
        kept = [s for s in sentences(Path(paths[lang])) if len(s) >= 3][:SENTENCES]
        rows += [(lang, "sentence", s) for s in kept]
        rows += [(lang, "fragment", f) for f in map(lambda s: fragment(s, lang), kept) if len(f) >= 3]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(["lang", "kind", "text"])
        writer.writerows(rows)
    print(f"{OUT}: {len(rows)} texts")


if __name__ == "__main__":
    main()
