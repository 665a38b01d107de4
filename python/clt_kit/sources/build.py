"""A data config (YAML or TOML) -> a data folder in the world's layout (`<task>/train.jsonl`,
`<task>/test.jsonl`), so that prep, training and evaluation read real datasets exactly as they read
the generated world, plus `data.json`: for every source its dataset, where it was read from, split,
configs, field mapping, language codes, seed and counts, and the sha256 of every file written.

    seed = 0
    [[sources]]
    dataset = "xlsum"          # an adapter (sources/adapters.py) or "generic"
    role = "test"              # train (a pool that mixtures sample) or test
    from = "csebuetnlp/xlsum"  # a hub id (the default: the adapter's) or a local copy
    per_lang = 250             # test sets: the paper's size by default; sampled with the seed

A test set of more items than `per_lang` keeps the items with the smallest seeded tickets (the
same items whatever the order rows are read in).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from clt_kit import __version__
from clt_kit.integrity import check_files
from clt_kit.jsonio import InputError, publish_dir, read_json, write_json, write_jsonl
from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.prep.core import identify_languages, sha256_file
from clt_kit.seeding import derive_seed
from clt_kit.sources.adapters import Adapter, Item, few_shot_prompt, few_shot_stop, generic_adapter, get_adapter, read_exemplars
from clt_kit.sources.read import Row, file_rows, hub_rows, is_local, local_files
from clt_kit.study import TASKS
from clt_kit.world.generate import WorldPaths

DATA_RECORD = "data.json"
log = logging.getLogger("clt_kit")
DATA_FORMAT = 1
ROLES = ("train", "test")


@dataclass(frozen=True)
class SourceSpec:
    """One source of a data config."""

    dataset: str
    role: str
    where: str | None = None  # a hub id or a local path; None: the adapter's hub id
    languages: tuple[str, ...] = PAPER_LANGUAGES
    per_lang: int | None = None  # None: the adapter's size for the role, else every item
    files: Mapping[str, str] = field(default_factory=dict)  # language -> a local file of its own (e.g. MGSM pt)
    revision: str | None = None  # a hub revision (commit) to pin
    task: str | None = None  # generic only
    fields: Mapping[str, str] = field(default_factory=dict)  # generic only: kit field -> dataset field
    lang: str | None = None  # generic only: every row is in this language
    shots: int | None = None  # worked examples before each test prompt; None: the adapter's (MGSM: 8)
    exemplars: str | None = None  # a JSON file {lang: {"1": {"q", "a"}, ...}} (MGSM's own exemplars' shape)
    columns: tuple[str, ...] = ()  # generic only: the column names of TSV files without a header line

    def adapter(self) -> Adapter:
        if self.columns and self.dataset != "generic":
            raise InputError(f"{self.dataset}: `columns` names the columns of a generic source's TSV files; the {self.dataset}"
                             " adapter knows its dataset's columns")
        if self.dataset == "generic":
            if self.task not in TASKS:
                raise InputError(f"a generic source needs task = one of {', '.join(TASKS)}, not {self.task!r}")
            return generic_adapter(self.task, self.fields, self.lang, self.columns)
        return get_adapter(self.dataset)


@dataclass(frozen=True)
class DataSpec:
    seed: int
    sources: tuple[SourceSpec, ...]


def _rows(source: SourceSpec, adapter: Adapter, lang: str | None) -> Iterator[Row]:
    """The rows of one source (of one language, for a dataset with a config per language)."""
    split = adapter.split(source.role)
    if lang is not None and lang in source.files:
        for path in local_files(Path(source.files[lang]), ("**/*",)):
            yield from file_rows(path, adapter.tsv_columns)
        return
    config = adapter.configs[lang] if adapter.configs is not None and lang is not None else adapter.config
    where = source.where or adapter.hub
    if where is None:
        raise InputError(f"dataset {adapter.name!r} has no hub copy: give `from` (a local copy){' or files for ' + lang if lang else ''}"
                         f"{'; ' + adapter.note if adapter.note else ''}")
    if is_local(where):
        patterns = tuple(p.format(config=config or "", split=split, lang=lang or "") for p in adapter.local)
        for path in local_files(Path(where), patterns):
            yield from file_rows(path, adapter.tsv_columns)
    else:
        yield from hub_rows(where, config, split, source.revision)


def _items(source: SourceSpec, seed: int, progress: bool) -> tuple[list[Item], dict[str, Any]]:
    """The kit items of one source and its record for data.json."""
    adapter = source.adapter()
    wanted = set(source.languages)
    per_lang = source.per_lang if source.per_lang is not None else adapter.per_lang.get(source.role)
    skipped: Counter[str] = Counter()
    found: list[tuple[str, Item]] = []  # (language or "" when it is still to be identified, item)
    groups = sorted(wanted) if adapter.configs is not None else [None]
    for lang in groups:
        if lang is not None and lang not in adapter.configs and lang not in source.files:  # type: ignore[operator]
            raise InputError(f"dataset {adapter.name!r} has no {lang} data; give `files: {{{lang}: <path>}}`"
                             f"{'; ' + adapter.note if adapter.note else ''}")
        for position, (where, row) in enumerate(tqdm(_rows(source, adapter, lang), desc=f"{adapter.name} {lang or ''}".strip(),
                                                     unit=" rows", disable=not progress, mininterval=1)):
            if missing := [f for f in adapter.fields if f not in row or row[f] is None]:
                raise InputError(f"{where}: no field {missing[0]!r}; a {adapter.name} row has {', '.join(adapter.fields)}"
                                 f" (is this a copy of {adapter.hub or adapter.name}?)")
            row_lang = lang or (adapter.lang_of(row) if adapter.lang_of else None) or source.lang or _row_lang(row)
            if row_lang is not None and row_lang not in wanted:
                skipped["other_language"] += 1
                continue
            try:
                item = adapter.to_item(row, row_lang or "en")
            except InputError as e:
                raise InputError(f"{where}: {e}") from None
            if not item["prompt"]:
                skipped["empty_prompt"] += 1
                continue
            if adapter.parallel is not None:
                item["parallel_id"] = _parallel_id(adapter, row, position, where)
            found.append((row_lang or "", item))
    found = _identified(found, wanted, skipped)
    if shots := (source.shots if source.shots is not None else adapter.shots):
        found = _with_shots(found, source, adapter, shots)
    by_lang: dict[str, list[Item]] = {}
    for lang, item in found:
        by_lang.setdefault(lang, []).append(item)
    items = []
    parallel = _parallel_sample(by_lang, adapter, source.role, seed, per_lang) if adapter.parallel is not None else None
    for lang in sorted(by_lang):
        # In the order of the dataset's own ids (then prompts): the same numbering, and the same
        # sample, whatever the order the rows were read in.
        ordered = sorted(by_lang[lang], key=lambda item: (str(item["source_id"]), item["prompt"]))
        ticket = lambda ix: derive_seed(seed, "sources", adapter.name, source.role, lang, str(ix[1]["source_id"]), ix[1]["prompt"])  # noqa: E731
        if parallel is not None:  # a parallel test set: the same source items in every language
            kept = [(i, item) for i, item in enumerate(ordered) if item["parallel_id"] in parallel]
        elif per_lang is not None:
            kept = sorted(enumerate(ordered), key=ticket)[:per_lang]
        else:
            kept = list(enumerate(ordered))
        for index, item in sorted(kept, key=lambda ix: ix[0]):
            items.append({"id": f"{adapter.name}-{source.role}-{lang}-{index:07d}", "lang": lang, "task": adapter.task,
                          **{k: v for k, v in item.items() if k != "source_id"}, "source_id": str(item["source_id"])})
    if not items:
        raise InputError(f"{adapter.name} ({source.role}) from {source.where or adapter.hub}: no items in {', '.join(sorted(wanted))}"
                         f" (skipped: {dict(skipped) or 'none'}); check its languages and that it is a copy of {adapter.hub or adapter.name}")
    for lang in sorted(wanted):
        if source.role == "test" and sum(i["lang"] == lang for i in items) < (per_lang or 1):
            log.warning("%s test: %d %s items, fewer than the %s asked; that language's scores rest on them alone",
                        adapter.name, sum(i["lang"] == lang for i in items), lang, per_lang or "1")
    record = {
        "dataset": adapter.name, "task": adapter.task, "role": source.role, "split": adapter.split(source.role),
        "from": source.where or adapter.hub, "revision": source.revision, "files": dict(source.files),
        "configs": {lang: adapter.configs[lang] for lang in sorted(wanted) if lang in adapter.configs} if adapter.configs else adapter.config,
        "fields": dict(source.fields) or list(adapter.fields), **({"columns": list(source.columns)} if source.columns else {}), "languages": sorted(wanted), "per_lang": per_lang, "seed": seed,
        "counts": {lang: {"read": len(by_lang.get(lang, [])), "kept": sum(i["lang"] == lang for i in items)} for lang in sorted(wanted)},
        "skipped": dict(sorted(skipped.items())), "note": adapter.note,
        "shots": shots, "exemplars": source.exemplars and {"path": source.exemplars, "sha256": sha256_file(source.exemplars)},
        "kit_exemplars": adapter.exemplars.record() if shots and adapter.exemplars is not None else None,
        "parallel": None if adapter.parallel is None else {"by": adapter.parallel, "source_items": parallel and sorted(parallel, key=_natural)},
    }
    return items, record


def _parallel_id(adapter: Adapter, row: dict[str, Any], position: int, where: str) -> str:
    """Which source item a row of a parallel dataset is a translation of: its position in its
    language's rows (MGSM: the n-th line of every mgsm_<lang>.tsv), or its row field that says so."""
    if adapter.parallel == "position":
        return str(position)
    value = row.get(str(adapter.parallel))
    if value is None or value == "":
        raise InputError(f"{where}: no field {adapter.parallel!r}, which says which source item a {adapter.name} row translates")
    return str(value)


def _natural(text: str) -> tuple[int, str]:
    """Numbers in number order, then the rest as text."""
    return (int(text), "") if text.isdigit() else (1 << 62, text)


def _parallel_sample(by_lang: dict[str, list[Item]], adapter: Adapter, role: str, seed: int, per_lang: int | None) -> set[str] | None:
    """The source items a sample of a parallel dataset keeps in every language: of those every
    language has, the `per_lang` with the smallest seeded tickets (a ticket of the source item
    alone, so the same in every language). None, every item kept: no sample is asked for, or no
    language has more than `per_lang` items."""
    if per_lang is None or all(len(items) <= per_lang for items in by_lang.values()):
        return None
    shared = set.intersection(*({item["parallel_id"] for item in items} for items in by_lang.values()))
    if dropped := {lang: n for lang, items in sorted(by_lang.items()) if (n := sum(i["parallel_id"] not in shared for i in items))}:
        log.warning("%s %s: items that are not in every language are left out of the sample, so that every language is scored on"
                    " the same source items: %s", adapter.name, role, ", ".join(f"{lang} {n}" for lang, n in dropped.items()))
    return set(sorted(shared, key=lambda pid: (derive_seed(seed, "sources", adapter.name, role, "parallel", pid), pid))[:per_lang])


def _with_shots(found: list[tuple[str, Item]], source: SourceSpec, adapter: Adapter, shots: int) -> list[tuple[str, Item]]:
    """Each prompt preceded by the first `shots` worked examples of its language: those of the
    config's `exemplars` file where it gives the language, else those the kit ships for the dataset."""
    exemplars = read_exemplars(Path(source.exemplars) if source.exemplars is not None else None, source.languages, shots,
                               adapter.exemplars.path if adapter.exemplars is not None else None)
    return [(lang, {**item, "prompt": few_shot_prompt(exemplars[lang], item["prompt"]), "stop": few_shot_stop(exemplars[lang])})
            for lang, item in found]


def _row_lang(row: dict[str, Any]) -> str | None:
    """A row's own language field (ShareGPT exports often carry one), if any."""
    value = row.get("lang", row.get("language"))
    return str(value) if value else None


def _identified(found: list[tuple[str, Item]], wanted: set[str], skipped: Counter[str]) -> list[tuple[str, Item]]:
    """Items without a language get the kit's language identifier's reading of their prompt."""
    unknown = [i for i, (lang, _) in enumerate(found) if not lang]
    if not unknown:
        return found
    codes, _ = identify_languages([found[i][1]["prompt"] for i in unknown], allow=sorted(wanted))
    langs = dict(zip(unknown, codes))
    kept = []
    for i, (lang, item) in enumerate(found):
        lang = lang or langs[i]
        if lang not in wanted:
            skipped["language_not_identified"] += 1
            continue
        kept.append((lang, item))
    return kept


def build_data(spec: DataSpec, out: Path, progress: bool = False) -> Path:
    """Writes the data folder of `spec` into `out` (atomically: complete or absent); returns `out`."""
    groups: dict[tuple[str, str], list[Item]] = {}
    records = []
    for source in spec.sources:
        items, record = _items(source, spec.seed, progress)
        groups.setdefault((record["task"], source.role), []).extend(items)
        records.append(record)
    with publish_dir(out) as tmp:
        for (task, role), items in sorted(groups.items()):
            ids = Counter(i["id"] for i in items)
            if dupes := sorted(k for k, n in ids.items() if n > 1):
                raise InputError(f"two sources give the same {task} {role} items ({dupes[0]}, ...): one dataset per task and role")
            write_jsonl(tmp / task / f"{role}.jsonl", sorted(items, key=lambda i: (i["lang"], i["id"])))
        write_json(tmp / DATA_RECORD, {
            "kind": "clt-kit data", "format": DATA_FORMAT, "kit_version": __version__, "seed": spec.seed,
            "sources": records, "files": {p.relative_to(tmp).as_posix(): sha256_file(str(p)) for p in sorted(tmp.rglob("*.jsonl"))},
        })
    return out


def data_paths(folder: Path, tasks: list[str]) -> WorldPaths:
    """A data folder that `build_data` wrote, checked before use: its record is there, its files are
    as recorded, and it has a train pool and a test set for each of `tasks`."""
    paths = WorldPaths(folder, DATA_RECORD)
    if not paths.manifest.is_file():
        raise InputError(f"{folder}: no {DATA_RECORD}; give a folder written by `clt-kit data CONFIG --out {folder}`, or the config itself")
    record = read_json(paths.manifest)
    if record.get("kind") != "clt-kit data":
        raise InputError(f"{paths.manifest}: not a clt-kit data record; make the folder again with `clt-kit data`")
    if problems := check_files(folder, record["files"], "data", DATA_RECORD):
        raise InputError("; ".join(problems) + f"; make the folder again with `clt-kit data CONFIG --out {folder}`")
    for task in tasks:
        if missing := [p.relative_to(folder).as_posix() for p in (paths.train(task), paths.test(task)) if not p.is_file()]:
            raise InputError(f"{folder}: no {' or '.join(missing)}; the runs asked for train and test on {task}: add a train"
                             f" and a test source of {task} to the data config")
    return paths
