"""Benchmark of the Rust prep core against Python baselines, measured in the same run.

    make bench                       # the full benchmark (>= 1M documents, >= 200 MB)
    .venv/bin/python benchmarks/bench_prep.py --docs 20000   # a quick look

Prints ratios (never absolute pass/fail: machines are shared and noisy; each side of a ratio is the
shortest of --runs timings) for:
  1. the whole prep (normalize, exact + near dedup, language ID, sampling) vs the same steps with
     hashlib/unicodedata + datasketch MinHashLSH + py3langid (baseline on a subsample, one core);
  2. MinHash signatures (128 permutations, 5-grams) in MB/s on one core;
  3. exact dedup including normalization vs hashlib + unicodedata on the same text (one core);
  4. language ID in sentences/s on one core (and vs py3langid);
  5. peak memory per million documents;
  6. the LSH candidate rate at controlled Jaccard similarity in every language vs 1-(1-s^r)^b,
     and cross-language merges.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from clt_kit import _prep
from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.prep import core
from clt_kit.prep.core import NearDupParams
from clt_kit.world import lexicon, tasks

CJK = {"ja", "zh"}


# ---------------------------------------------------------------- synthetic multilingual corpus
def sentence_pool(lang: str, n: int, seed: int) -> list[str]:
    """Sentences of the embedded world in `lang` (task text and corpus lines)."""
    lx = lexicon.load(lang)
    r = random.Random(f"{seed}-{lang}")
    out: list[str] = []
    while len(out) < n:
        kind = r.randrange(4)
        if kind == 0:
            out.append(tasks.corpus_line(lx, r, 99))
        else:
            item = [tasks.make_mr(lx, r, 99), tasks.make_sm(lx, r), tasks.make_if(lx, r)][kind - 1]
            out += [s for s in item["prompt"].split("\n") if s.strip()]
    return out[:n]


def _vocabulary(lang: str, seed: int) -> list[str]:
    """Tokens of the language (words, or characters for ja/zh), most frequent first."""
    from collections import Counter

    text = " ".join(sentence_pool(lang, 3000, seed))
    if lang in CJK:
        counts = Counter(c for c in text if c.isalpha())
    else:
        counts = Counter(w.strip(".,;:!?¿¡«»\"'()") for w in text.split())
        counts.pop("", None)
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def make_corpus(n_docs: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """(texts, keys, langs): ~200-300-byte documents in the 8 languages, 10% exact and 10% near duplicates.

    Documents are Zipf-distributed draws from each language's vocabulary (words, or characters for
    ja and zh, in their scripts), so that distinct documents are really distinct, as in a crawl;
    the templated world would make every pair of documents look alike.
    """
    rs = np.random.default_rng(seed)
    r = random.Random(seed)
    per_lang: dict[str, list[str]] = {}
    n_lang = -(-n_docs // len(PAPER_LANGUAGES))
    for lang in PAPER_LANGUAGES:
        vocab = _vocabulary(lang, seed)
        weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
        length = 74 if lang in CJK else 34
        idx = rs.choice(len(vocab), size=(n_lang, length), p=weights / weights.sum())
        sep = "" if lang in CJK else " "
        end = "。" if lang in CJK else "."
        per_lang[lang] = [sep.join(vocab[j] for j in row) + end for row in idx]
    texts, keys, langs = [], [], []
    for i in range(n_docs):
        lang = PAPER_LANGUAGES[i % len(PAPER_LANGUAGES)]
        text = per_lang[lang][i // len(PAPER_LANGUAGES)]
        u = r.random()
        if u < 0.2 and i >= 8 * 50:
            j = i - 8 * r.randint(1, 50)  # an earlier document of the same language
            text = texts[j].upper() if u < 0.1 else texts[j] + " " + str(r.randint(0, 9))
        texts.append(text)
        keys.append(f"{lang}-{i:08d}")
        langs.append(lang)
    return texts, keys, langs


def mb(texts: list[str]) -> float:
    return sum(len(t.encode()) for t in texts) / 1e6


def timed(f: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def best_of(runs: int, f: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of `runs` timings (the machine is shared: slower runs measure its neighbours)."""
    times, out = zip(*(timed(f) for _ in range(runs)))
    return min(times), out[0]


def language_groups(langs: list[str]) -> np.ndarray:
    index = {lang: g for g, lang in enumerate(PAPER_LANGUAGES)}
    return np.fromiter((index[lang] for lang in langs), dtype=np.uint32, count=len(langs))


# ---------------------------------------------------------------- the two implementations
def rust_prep(texts: list[str], keys: list[str], langs: list[str], threads: int) -> dict[str, int]:
    """The whole prep through the Rust core (what clean() + sampling do)."""
    groups = language_groups(langs)
    text_col, key_col = core.column(texts), core.column(keys)
    norm_col = core.normalized(text_col, threads)
    survivor, _ = core.exact_dedup(norm_col, key_col, threads)
    alive = survivor == np.arange(len(texts))
    near = core.near_dedup(norm_col, key_col, groups, alive, NearDupParams(), threads)
    alive &= near.survivor == np.arange(len(texts))
    alive_idx = np.flatnonzero(alive)
    predicted, _ = core.identify_languages(text_col, (), threads=threads, rows=alive_idx)
    keep = [i for i, p in zip(alive_idx, predicted) if p == langs[i] or p == "und"]
    k = [-1] * len(PAPER_LANGUAGES)
    picked = core.sample_nested([keys[i] for i in keep], groups[keep], k, 1, "bench", threads)
    return {"kept": len(picked), "near_merged": int((near.survivor != np.arange(len(texts))).sum())}


def _normalize_py(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).split())


def python_exact(texts: list[str], keys: list[str]) -> list[int]:
    best: dict[bytes, int] = {}
    hashes = [hashlib.md5(_normalize_py(t).encode()).digest() for t in texts]
    for i, h in enumerate(hashes):
        if h not in best or keys[i] < keys[best[h]]:
            best[h] = i
    return [best[h] for h in hashes]


def _shingles_py(text: str, n: int = 3) -> set[bytes]:
    words = _normalize_py(text).split()
    if len(words) < n:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


def py3langid_identifier() -> Any:
    """py3langid restricted to the paper's languages (its model ships in its wheel)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE)
    ident.set_languages(list(PAPER_LANGUAGES))
    return ident


def baseline_prep(texts: list[str], keys: list[str], langs: list[str], ident: Any) -> dict[str, int]:
    """The same steps with hashlib/unicodedata + datasketch MinHashLSH + py3langid (`ident`), one core."""
    from datasketch import MinHash, MinHashLSH
    survivor = python_exact(texts, keys)
    lsh = MinHashLSH(num_perm=128, params=(16, 8))
    near_merged = 0
    alive = []
    for i, t in enumerate(texts):
        if survivor[i] != i:
            continue
        m = MinHash(num_perm=128, seed=42)
        m.update_batch(list(_shingles_py(t)))
        key = f"{langs[i]}|{keys[i]}"
        if any(c.split("|", 1)[0] == langs[i] for c in lsh.query(m)):
            near_merged += 1
            continue
        lsh.insert(key, m)
        alive.append(i)
    keep = [i for i in alive if ident.classify(texts[i])[0] == langs[i]]
    tickets = sorted(keep, key=lambda i: (hashlib.blake2b(f"1|bench|{keys[i]}".encode(), digest_size=8).digest(), keys[i]))
    return {"kept": len(tickets), "near_merged": near_merged}


# ---------------------------------------------------------------- the LSH curve
def _mutate(tokens: list[str], fraction: float, r: random.Random, fresh: Callable[[], str]) -> list[str]:
    out = list(tokens)
    for pos in r.sample(range(len(out)), round(fraction * len(out))):
        out[pos] = fresh()
    return out


def lsh_curve(per_bin: int, seed: int, params: NearDupParams) -> dict[str, Any]:
    """Candidate rate vs theory per language and Jaccard bin.

    Pairs (a document and an edited copy) are drawn until every bin s +- 0.025 for s in
    0.30, 0.35, ..., 0.95 holds `per_bin` pairs; each pair is a group of its own, so a candidate is
    exactly "the two share a band". The theory is 1-(1-s^r)^b averaged over the bin's pairs.
    """
    r = random.Random(seed)
    centers = [round(0.30 + 0.05 * i, 2) for i in range(14)]
    report: dict[str, Any] = {}
    for lang in PAPER_LANGUAGES:
        vocab_text = " ".join(sentence_pool(lang, 400, seed))
        spaced = lang not in CJK and lang != "ko"
        units = sorted({w for w in vocab_text.split() if w.isalpha()}) if spaced else sorted({c for c in vocab_text if c.isalpha()})
        counter = iter(range(10**9))

        def fresh() -> str:
            if spaced:
                return units[r.randrange(len(units))] + str(next(counter))
            return units[r.randrange(len(units))] if r.random() < 0.3 else chr(0x4E00 + r.randrange(20000))

        join = " " if spaced else ""
        def pair(f: float) -> tuple[str, str, float]:
            # 300 tokens, so that one edited token moves s by well under a bin's width.
            base = [fresh() for _ in range(300)]
            a, b = join.join(base), join.join(_mutate(base, f, r, fresh))
            return a, b, _prep.shingle_jaccard(a, b, word_n=params.word_n, char_n=params.char_n)

        # s falls as the edited share f grows: find each bin's f by bisection, then draw pairs
        # with f jittered around it and keep those that land in the bin.
        bins: dict[float, list[tuple[str, str, float]]] = {c: [] for c in centers}
        for c in centers:
            lo, hi = 0.0, 0.5
            for _ in range(12):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if pair(mid)[2] > c else (lo, mid)
            tries = 0
            while len(bins[c]) < per_bin and tries < 20 * per_bin:
                tries += 1
                a, b, s = pair(max(0.0, lo + r.uniform(-0.01, 0.01)))
                if abs(s - c) < 0.025:
                    bins[c].append((a, b, s))
        centers = [c for c in centers if len(bins[c]) == per_bin]  # bins this generator cannot fill are left out
        texts = [t for c in centers for a, b, _ in bins[c] for t in (a, b)]
        n = len(texts)
        keys = [f"{i:08d}" for i in range(n)]
        groups = np.repeat(np.arange(n // 2, dtype=np.uint32), 2)
        no_verify = NearDupParams(**{**params.__dict__, "verify": False})
        res = core.near_dedup(texts, keys, groups, np.ones(n, dtype=bool), no_verify)
        cand = res.survivor[1::2] == np.arange(0, n, 2)
        rows = []
        for bi, c in enumerate(centers):
            sel = slice(bi * per_bin, (bi + 1) * per_bin)
            theory = float(np.mean([1 - (1 - s**params.rows) ** params.bands for _, _, s in bins[c]]))
            rows.append({"s": c, "pairs": per_bin, "rate": float(cand[sel].mean()), "theory": theory})
        report[lang] = rows
    return report


# ---------------------------------------------------------------- peak memory (a child process)
def peak_memory(n_docs: int, seed: int) -> dict[str, float]:
    """Peak RSS of the prep alone: the high-water mark is reset (clear_refs 5) after the corpus is built."""
    code = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from bench_prep import make_corpus, rust_prep
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
texts, keys, langs = make_corpus({n_docs}, {seed})
rust_prep(texts[:100], keys[:100], langs[:100], 0)
open("/proc/self/clear_refs", "w").write("5")
before = status("VmRSS:")
rust_prep(texts, keys, langs, 0)
print(json.dumps({{"rss_before_mb": before, "rss_peak_mb": status("VmHWM:")}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--baseline-docs", type=int, default=20_000, help="subsample the slow Python baseline runs on")
    ap.add_argument("--curve-pairs", type=int, default=5000, help="pairs per language and Jaccard bin for the LSH curve")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3, help="time every measurement (ours and the baselines') this many times and keep the shortest")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    results: dict[str, Any] = {"docs": args.docs}

    t, (texts, keys, langs) = timed(lambda: make_corpus(args.docs, args.seed))
    size = mb(texts)
    results["corpus_mb"] = size
    print(f"corpus: {args.docs} documents, {size:.1f} MB, 8 languages (generated in {t:.1f} s)")

    # 1. whole prep (after a warm-up: pyarrow's first call and the language-ID model's training).
    # Python caches a string's UTF-8 the first time it is converted; the first conversion of the
    # corpus is timed on its own and then every run (ours and the baseline's) sees warm strings.
    rust_prep(texts[:2000], keys[:2000], langs[:2000], 0)
    t_cold, _ = timed(lambda: core.column(texts))
    results["first_conversion_s"] = t_cold
    print(f"   first conversion of the corpus to a column (Python encodes and caches each string's UTF-8): {t_cold:.2f} s")
    t_all, out_all = best_of(args.runs, lambda: rust_prep(texts, keys, langs, 0))
    t_one, out_one = best_of(args.runs, lambda: rust_prep(texts, keys, langs, 1))
    assert out_all == out_one, "thread count changed the result"
    sub = slice(0, args.baseline_docs)
    sub_texts, sub_keys, sub_langs = texts[sub], keys[sub], langs[sub]
    ident = py3langid_identifier()  # loading its model is not timed (nor is training ours)
    t_base, base_out = best_of(args.runs, lambda: baseline_prep(sub_texts, sub_keys, sub_langs, ident))
    base_mbps = mb(sub_texts) / t_base
    rust_all, rust_one = size / t_all, size / t_one
    results["whole_prep"] = {"rust_mb_s_all_threads": rust_all, "rust_mb_s_1_thread": rust_one, "baseline_mb_s": base_mbps,
                             "ratio_all_threads": rust_all / base_mbps, "ratio_1_thread": rust_one / base_mbps}
    print(f"1. whole prep: Rust {rust_all:.1f} MB/s (all threads), {rust_one:.1f} MB/s (1 thread); "
          f"baseline {base_mbps:.3f} MB/s on {args.baseline_docs} docs -> ratio {rust_all / base_mbps:.0f}x "
          f"({rust_one / base_mbps:.0f}x on one thread); Rust kept {out_all['kept']}, merged {out_all['near_merged']} near dups;"
          f" baseline kept {base_out['kept']} of its subsample")

    # 2. MinHash signatures, one core, 128 permutations, 5-grams
    data = core._buffers(texts)
    t_sig, _ = best_of(args.runs, lambda: _prep.minhash_signatures(*data, num_perm=128, seed=42, word_n=5, char_n=5, threads=1))
    from datasketch import MinHash

    def datasketch_sigs() -> None:
        for t in sub_texts:
            m = MinHash(num_perm=128, seed=42)
            m.update_batch(list(_shingles_py(t, 5)))

    t_ds, _ = best_of(args.runs, datasketch_sigs)
    results["minhash"] = {"rust_mb_s_1_core": size / t_sig, "datasketch_mb_s": mb(sub_texts) / t_ds}
    print(f"2. MinHash (128 perm, 5-grams): {size / t_sig:.1f} MB/s on one core; datasketch {mb(sub_texts) / t_ds:.2f} MB/s"
          f" -> {size / t_sig / (mb(sub_texts) / t_ds):.0f}x")

    # 3. exact dedup with normalization, one core, vs hashlib + unicodedata on the same text
    t_ex, _ = best_of(args.runs, lambda: core.exact_dedup(texts, keys, 1))
    n_py = min(len(texts), 200_000)
    t_py, _ = best_of(args.runs, lambda: python_exact(texts[:n_py], keys[:n_py]))
    ex_rust, ex_py = size / t_ex, mb(texts[:n_py]) / t_py
    results["exact_dedup"] = {"rust_mb_s_1_core": ex_rust, "python_mb_s": ex_py, "ratio": ex_rust / ex_py}
    print(f"3. exact dedup + normalization: Rust {ex_rust:.1f} MB/s, hashlib+unicodedata {ex_py:.1f} MB/s -> {ex_rust / ex_py:.1f}x")

    # 4. language ID, sentences per second on one core
    sentences = [s for t in texts[:200_000] for s in t.split(". ") if s][:500_000]
    t_lid, _ = best_of(args.runs, lambda: core.identify_languages(sentences, threads=1))
    t_pl, _ = best_of(args.runs, lambda: [ident.classify(s) for s in sentences[:20_000]])
    lid_rust, lid_py = len(sentences) / t_lid, 20_000 / t_pl
    results["langid"] = {"rust_sentences_s_1_core": lid_rust, "py3langid_sentences_s": lid_py, "ratio": lid_rust / lid_py}
    print(f"4. language ID: {lid_rust:,.0f} sentences/s on one core; py3langid {lid_py:,.0f}/s -> {lid_rust / lid_py:.0f}x")

    # 5. peak memory
    mem = peak_memory(args.docs, args.seed)
    per_m = (mem["rss_peak_mb"] - mem["rss_before_mb"]) / (args.docs / 1e6)
    results["memory"] = {**mem, "prep_mb_per_million_docs": per_m}
    print(f"5. memory: RSS {mem['rss_before_mb']:.0f} MB with the corpus loaded in Python, peak {mem['rss_peak_mb']:.0f} MB"
          f" during prep: the prep adds {per_m:.0f} MB per million documents")

    # 6. LSH curve
    params = NearDupParams()
    curve = lsh_curve(args.curve_pairs, args.seed, params)
    worst = max(abs(row["rate"] - row["theory"]) for rows in curve.values() for row in rows)
    results["lsh_curve"] = {"bands": params.bands, "rows": params.rows, "per_language": curve, "max_abs_deviation": worst}
    se = 100 * 0.5 / args.curve_pairs**0.5
    print(f"6. LSH candidate rate vs 1-(1-s^{params.rows})^{params.bands}, {args.curve_pairs} pairs per bin"
          f" (standard error <= {se:.1f} points): max |rate - theory| = {100 * worst:.1f} points")
    for lang, rows in curve.items():
        cells = " ".join(f"{row['s']:.2f}:{100 * row['rate']:.0f}/{100 * row['theory']:.0f}" for row in rows)
        print(f"   {lang}: s:rate/theory (%) {cells}")
    groups = language_groups(langs)
    parallel = texts[:2000] + texts[:2000]
    pkeys = [f"a{i}" for i in range(2000)] + [f"b{i}" for i in range(2000)]
    pgroups = np.concatenate([groups[:2000], (groups[:2000] + 1) % 8])
    merged = core.near_dedup(parallel, pkeys, pgroups, np.ones(4000, dtype=bool), params)
    cross = int(sum(pgroups[merged.survivor[i]] != pgroups[i] for i in range(4000)))
    results["cross_language_merges"] = cross
    print(f"   cross-language merges (the same 2000 texts labelled with two languages): {cross}")

    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
