"""`clt-kit world`: writes the world's corpus, task pools, test sets, faults and manifest.

Layout of a world directory:
    world.json              manifest: seed, scale, languages, sha256 and counts of every file
    corpus.jsonl            pretraining sentences {"id", "lang", "text"}
    <TASK>/train.jsonl      dirty training pools, all languages (read them with prep's --lenient:
                            some lines are broken on purpose)
    <TASK>/test.jsonl       clean test sets, all languages
    faults.jsonl            ground truth of every injected fault {"id", "task", "lang", "fault", "of"}:
                            exact_duplicate, near_duplicate (of: the original), wrong_language (of:
                            the language the text really is in), test_leak (of: the test item), broken

Test sets draw names, objects, topics, keywords and places from a held-out quarter of each lexicon
list, and are disjoint from the clean pool by normalized prompt; leaks are the labelled exception.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from clt_kit import __version__
from clt_kit.chat import chat_text
from clt_kit._prep import normalize_text
from clt_kit.integrity import check_files
from clt_kit.jsonio import canonical, publish_dir, read_json, write_json, write_jsonl, write_text_atomic
from clt_kit.languages import ENGLISH, PAPER_LANGUAGES
from clt_kit.study import TASKS
from clt_kit.prep.core import sha256_file
from clt_kit.scales import WorldConfig
from clt_kit.seeding import rng
from clt_kit.world import lexicon, tasks

WORLD_FORMAT = 3  # 3: digits split from words, worked MR solutions, corpus items and repeats per scale
MAX_TRIES_PER_ITEM = 50
PARALLEL_SHARE = 0.15  # of the non-English corpus lines: an English line = its translation

log = logging.getLogger("clt_kit")


@dataclass(frozen=True)
class WorldPaths:
    """The files of a world, or of a data folder in the world's layout (`clt-kit data`: its record is data.json)."""

    root: Path
    record: str = "world.json"

    @property
    def manifest(self) -> Path:
        return self.root / self.record

    @property
    def corpus(self) -> Path:
        return self.root / "corpus.jsonl"

    @property
    def faults(self) -> Path:
        return self.root / "faults.jsonl"

    def train(self, task: str) -> Path:
        return self.root / task / "train.jsonl"

    def test(self, task: str) -> Path:
        return self.root / task / "test.jsonl"


def world_settings(config: WorldConfig) -> dict[str, Any]:
    """`config` as a world's manifest records it."""
    return json.loads(canonical(asdict(config)))


# The item generator of each task of the study (study.toml's [tasks]; tests/test_study.py checks
# that every one has one): (language, random source, world config, split) -> one item.
BUILDERS: dict[str, Callable[[lexicon.Language, Any, WorldConfig, str], tasks.Item]] = {
    "MR": lambda lang, r, config, split: tasks.make_mr(lang, r, config.max_number, split, config.mr_changes),
    "SM": lambda lang, r, config, split: tasks.make_sm(lang, r, split),
    "IF": lambda lang, r, config, split: tasks.make_if(lang, r, split),
}


def _builder(task: str, config: WorldConfig, split: str) -> Callable[[lexicon.Language, Any], tasks.Item]:
    build = BUILDERS[task]
    return lambda lang, r: build(lang, r, config, split)


def _unique_items(
    task: str, lang: lexicon.Language, n: int, split: str, seed: int, config: WorldConfig, taken: set[str]
) -> list[dict[str, Any]]:
    """`n` items whose normalized prompts are not in `taken` (which is updated)."""
    r = rng(seed, "world", task, lang.code, split)
    build = _builder(task, config, split)
    items: list[dict[str, Any]] = []
    for _ in range(n * MAX_TRIES_PER_ITEM):
        if len(items) == n:
            break
        item = build(lang, r)
        key = normalize_text(item["prompt"])
        if key in taken:
            continue
        taken.add(key)
        items.append({"id": f"{task.lower()}-{lang.code}-{split}-{len(items):05d}", "task": task, "lang": lang.code, **item})
    if len(items) < n:
        raise RuntimeError(
            f"the {lang.code} {task} templates yield only {len(items)} distinct {split} items, {n} asked;"
            " add templates or lexicon entries to languages/{lang.code}.json or use a smaller scale"
        )
    return items


def _noisy_copy(text: str, r: Any) -> str:
    """The same text after normalization: case and whitespace changed."""
    variants = [text.upper(), f"  {text}  ", text.replace(" ", "  "), text + "\n"]
    return r.choice(variants)


def _small_edit(item: dict[str, Any], lang: lexicon.Language, r: Any) -> dict[str, Any]:
    """A near copy: one word (one character in scripts without spaces) typed twice, as a typo would."""
    prompt = item["prompt"]
    if lang.script in tasks.NO_SPACE_SCRIPTS:
        i = r.randrange(1, len(prompt))
        edited = prompt[:i] + prompt[i - 1] + prompt[i:]
    else:
        words = prompt.split(" ")
        i = r.randrange(len(words))
        edited = " ".join(words[: i + 1] + [words[i]] + words[i + 1 :])
    return dict(item, prompt=edited)


def _inject_faults(
    pool: list[dict[str, Any]], tests: list[dict[str, Any]], lang: lexicon.Language, others: list[lexicon.Language],
    task: str, split_seed: int, config: WorldConfig,
) -> tuple[list[str], list[dict[str, Any]]]:
    """The pool's JSONL lines with injected faults (shuffled), and the ground truth of each fault."""
    r = rng(split_seed, "faults", task, lang.code)
    prefix = f"{task.lower()}-{lang.code}-train"
    rows: list[dict[str, Any]] = list(pool)
    faults: list[dict[str, Any]] = []

    def add(row: dict[str, Any], fault: str, of: str | None) -> None:
        rows.append(row)
        faults.append({"id": row["id"], "task": task, "lang": lang.code, "fault": fault, "of": of})

    for j, original in enumerate(r.sample(pool, round(len(pool) * config.duplicate_rate))):
        add(dict(original, id=f"{prefix}-d{j:05d}", prompt=_noisy_copy(original["prompt"], r)), "exact_duplicate", original["id"])
    for j, original in enumerate(r.sample(pool, round(len(pool) * config.near_duplicate_rate))):
        add(dict(_small_edit(original, lang, r), id=f"{prefix}-n{j:05d}"), "near_duplicate", original["id"])
    build_other = _builder(task, config, "train")
    for j in range(round(len(pool) * config.mislabel_rate)):
        other = others[r.randrange(len(others))]
        item = build_other(other, r)
        add({"id": f"{prefix}-m{j:05d}", "task": task, "lang": lang.code, **item}, "wrong_language", other.code)
    for j, test in enumerate(r.sample(tests, round(len(tests) * config.leak_rate))):
        leaked = test if j % 2 == 0 else _small_edit(test, lang, r)
        add(dict(leaked, id=f"{prefix}-l{j:05d}"), "test_leak", test["id"])

    lines = [canonical(row) for row in rows]
    for j in range(round(len(pool) * config.broken_rate)):
        bad_id = f"{prefix}-b{j:05d}"
        kind = j % 3
        if kind == 0:
            line = canonical({"id": bad_id, "task": task, "lang": lang.code, "prompt": "..."})[:-7]  # cut mid-record
        elif kind == 1:
            line = canonical({"id": bad_id, "task": task, "lang": lang.code, "prompt": "?"})  # no response
        else:
            line = canonical({"id": bad_id, "task": task, "lang": lang.code, "prompt": " ", "response": "x"})  # empty prompt
        lines.append(line)
        faults.append({"id": bad_id, "task": task, "lang": lang.code, "fault": "broken", "of": None})
    r.shuffle(lines)
    return lines, faults


def corpus_item_text(item: tasks.Item, item_format: str) -> str:
    """A task item as pretraining text: in the chat format of fine-tuning ("chat"), or as the
    request, a line break and the answer ("plain"). WorldConfig.corpus_item_format says which."""
    if item_format == "chat":
        return chat_text(item["prompt"], item["response"])
    return item["prompt"] + "\n" + item["response"]


def _corpus(seed: int, config: WorldConfig, langs: list[lexicon.Language]) -> list[dict[str, Any]]:
    """English-heavy monolingual sentences (shares per language from the config), some parallel
    pairs, task-shaped text (a task item with its answer, written as the config's
    corpus_item_format says; shares per task from the config) and passages written twice (a share
    of the monolingual lines, from the config)."""
    r = rng(seed, "world", "corpus")
    english = next(lang for lang in langs if lang.code == ENGLISH)
    rows = []
    shares = config.corpus_share_of([lang.code for lang in langs])
    cumulative = list(accumulate(shares[lang.code] for lang in langs))
    total = cumulative[-1]
    item_tasks = sorted(config.corpus_items)
    item_cumulative = list(accumulate(config.corpus_items[t] for t in item_tasks))
    for i in range(config.corpus_lines):
        u = r.random() * total
        lang = langs[next(j for j, c in enumerate(cumulative) if u < c)]
        kind = r.random()
        if kind < PARALLEL_SHARE and lang is not english:
            # A parallel pair: the same picks rendered in English and in `lang`.
            picks = {"template": r.randrange(len(english["corpus"])), "name": r.randrange(8), "item": r.randrange(8),
                     "place": r.randrange(len(english.places)), "month": r.randrange(12),
                     "a": r.randint(1, config.max_number), "b": r.randint(1, config.max_number), "words": r.random() < 0.5}
            text = tasks.corpus_line(english, r, config.max_number, picks) + " = " + tasks.corpus_line(lang, r, config.max_number, picks)
        elif (w := r.random()) < item_cumulative[-1]:
            task = item_tasks[next(j for j, c in enumerate(item_cumulative) if w < c)]
            item = _builder(task, config, "train")(lang, r)
            text = corpus_item_text(item, config.corpus_item_format)
        else:
            text = tasks.corpus_line(lang, r, config.max_number)
            if r.random() < config.corpus_repeat_share:
                # A three-sentence passage written twice: text that rewards copying from context.
                passage = tasks.join_sentences(lang, [text, *(tasks.corpus_line(lang, r, config.max_number) for _ in range(2))])
                text = passage + "\n" + passage
        rows.append({"id": f"corpus-{i:07d}", "lang": lang.code, "text": text})
    return rows



def generate_world(out: Path, seed: int, config: WorldConfig, scale: str, languages: tuple[str, ...] = PAPER_LANGUAGES) -> WorldPaths:
    """Generates the world into `out` (atomically: a complete world or none) and returns its paths;
    its manifest names the `scale` whose config it is."""
    langs = [lexicon.load(code) for code in languages]
    with publish_dir(out) as tmp:
        paths = WorldPaths(tmp)
        all_faults: list[dict[str, Any]] = []
        counts: dict[str, dict[str, dict[str, int]]] = {}
        for task in TASKS:
            train_lines: list[str] = []
            test_rows: list[dict[str, Any]] = []
            for lang in langs:
                taken: set[str] = set()
                test = _unique_items(task, lang, config.test_per_lang[task], "test", seed, config, taken)
                pool = _unique_items(task, lang, config.pool_per_lang, "train", seed, config, taken)
                others = [other for other in langs if other.code != lang.code]
                lines, faults = _inject_faults(pool, test, lang, others, task, seed, config)
                test_rows += test
                train_lines += lines
                all_faults += faults
                counts.setdefault(task, {})[lang.code] = {"train_lines": len(lines), "clean": len(pool), "test": len(test)}
            write_text_atomic(paths.train(task), "".join(line + "\n" for line in train_lines))
            write_jsonl(paths.test(task), test_rows)
        write_jsonl(paths.corpus, _corpus(seed, config, langs))
        write_jsonl(paths.faults, all_faults)
        files = sorted(p for p in paths.root.rglob("*.jsonl"))
        manifest = {
            "kind": "clt-kit world",
            "format": WORLD_FORMAT,
            "kit_version": __version__,
            "seed": seed,
            "scale": scale,
            "settings": world_settings(config),
            "languages": list(languages),
            "counts": counts,
            "files": {str(p.relative_to(paths.root)): sha256_file(str(p)) for p in files},
        }
        write_json(paths.manifest, manifest)
    return WorldPaths(out)


def ensure_world(out: Path, seed: int, config: WorldConfig, scale: str) -> WorldPaths:
    """Reuses a complete world with the same seed, scale name and config whose files are as
    recorded, else generates it (a world made by an earlier version of a scale, e.g. with smaller
    pools, or with a file changed since, is made again; the log names the changed file)."""
    paths = WorldPaths(out)
    if paths.manifest.exists():
        m = read_json(paths.manifest)
        if (m.get("seed") == seed and m.get("scale") == scale and m.get("format") == WORLD_FORMAT
                and m.get("settings") == world_settings(config)):
            if not (problems := world_problems(paths)):
                return paths
            log.warning("%s; making the world again", "; ".join(problems))
    return generate_world(out, seed, config, scale)


def world_problems(world: WorldPaths) -> list[str]:
    """Files of the world that are missing, changed since it was made, or not its own."""
    return check_files(world.root, read_json(world.manifest)["files"], "world", world.manifest.name)
