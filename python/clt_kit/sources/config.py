"""The data config of `clt-kit data` (YAML or TOML), validated as a whole before any dataset is
read: each key's type and range (a typed schema), then what one key means for another (a generic
source's task, a language's own file, worked examples for few-shot prompts) and the local files it
names. Every problem is one line naming the config file, the key (`sources[0].per_lang`, counting
sources from 0) and the fix.

Where a source is read from (`from`): a local file or folder when that path exists, or when it looks
like a path (it starts with `.`, `/` or `~`, ends with `/`, has a data file's extension, or is not
of the form owner/name); else a Hugging Face hub id. A local path that does not exist is named as
such, never sent to the hub.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clt_kit.jsonio import InputError
from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.sources.adapters import ADAPTERS, Adapter, generic_adapter, read_exemplars
from clt_kit.sources.build import DataSpec, SourceSpec
from clt_kit.sources.read import decoded_text, is_local
from clt_kit.study import TASKS

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, as a package (pyproject.toml)
    import tomli as tomllib

Lang = Literal[PAPER_LANGUAGES]  # type: ignore[valid-type]
Text = Annotated[str, Field(min_length=1)]


class _Source(BaseModel):
    """One `[[sources]]` entry, as the file writes it (strict: no "10" for 10, no true for 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    dataset: Text
    role: Literal["train", "test"]
    from_: Text | None = Field(default=None, alias="from")
    languages: Annotated[list[Lang], Field(min_length=1)] | None = None
    per_lang: Annotated[int, Field(gt=0)] | None = None
    files: dict[Lang, Text] = {}
    revision: Text | None = None
    task: Literal[TASKS] | None = None  # type: ignore[valid-type]
    fields: dict[Literal["prompt", "response", "lang", "id", "answer"], Text] = {}
    lang: Lang | None = None
    shots: Annotated[int, Field(ge=0)] | None = None
    exemplars: Text | None = None
    columns: Annotated[list[Text], Field(min_length=1)] | None = None


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    seed: Annotated[int, Field(ge=0)] = 0
    sources: Annotated[list[_Source], Field(min_length=1)]


# What each key must be: the fix named in its error.
EXPECTED: dict[str, str] = {
    "seed": "an integer of 0 or more (every sample derives from it)",
    "sources": "a non-empty list of sources, each a table with dataset and role",
    "dataset": f"the name of an adapter: {', '.join(sorted(ADAPTERS))} or generic",
    "role": "train or test",
    "from": "text: a local file or folder, or a hub id owner/name",
    "languages": f"a non-empty list of the study's language codes ({', '.join(PAPER_LANGUAGES)})",
    "per_lang": "a positive integer (items kept per language, e.g. 250)",
    "files": f"a table of language code ({', '.join(PAPER_LANGUAGES)}) -> the path of that language's own file",
    "revision": "text: a hub revision (a commit) to pin",
    "task": f"one of {', '.join(TASKS)}",
    "fields": "a table of kit field (prompt, response, lang, id, answer) -> the dataset's field name",
    "lang": f"one of the study's language codes ({', '.join(PAPER_LANGUAGES)})",
    "shots": "an integer of 0 or more (worked examples before each test prompt)",
    "exemplars": "text: the path of a JSON file of worked examples per language",
    "columns": "a non-empty list of column names: a generic source's TSV files without a header line",
}
_PLAIN = re.compile(r"[A-Za-z0-9_-]+")  # a key shown as .key in a key path (else as ['key'])
SOURCE_KEYS = "dataset, role, from, languages, per_lang, files, revision, task, fields, lang, shots, exemplars, columns"


def read_data_spec(path: Path) -> DataSpec:
    """A data config file (.yaml/.yml or .toml), checked whole; InputError names the file and key."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the data config ({e.strerror})") from e
    text = decoded_text(data, path)
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InputError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from e
    elif path.suffix == ".toml":
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{path}: not valid TOML ({e})") from e
    else:
        raise InputError(f"{path}: a data config is a .yaml, .yml or .toml file")
    return spec_of(raw, path)


def spec_of(raw: Any, path: Path) -> DataSpec:
    """The DataSpec of a parsed config, or InputError naming `path` and every bad key."""
    if not isinstance(raw, dict):
        raise InputError(f"{path}: a data config is a table with `seed` and a list of `sources`, got {_shown(raw)}")
    try:
        config = _Config.model_validate(raw)
    except ValidationError as e:
        raise InputError(f"{path}: {_problems(e)}") from None
    specs = tuple(_source_spec(i, source, path) for i, source in enumerate(config.sources))
    seen: dict[tuple[str, str], int] = {}
    for i, spec in enumerate(specs):
        if (j := seen.setdefault((spec.dataset, spec.role), i)) != i:
            raise InputError(f"{path}: sources[{i}]: a second {spec.dataset} {spec.role} source (sources[{j}] is one);"
                             " their items would share ids: keep one")
    return DataSpec(seed=config.seed, sources=specs)


Fail = Callable[[str, str], InputError]  # (key, problem) -> the error naming the file and the source's key


def _source_spec(i: int, source: _Source, path: Path) -> SourceSpec:
    """One checked source: what its keys mean together, and the local files they name."""
    def fail(key: str, problem: str) -> InputError:
        return InputError(f"{path}: sources[{i}].{key}: {problem}")

    adapter = _check_dataset(source, fail)
    languages = _check_languages(source, adapter, fail)
    where = _local_path(source.from_, fail, "from") if source.from_ is not None and is_local(source.from_) else source.from_
    if source.revision is not None and where is not None and is_local(where):
        raise fail("revision", f"pins a hub dataset, and from: {where!r} is a local path: remove revision")
    files = {lang: _local_path(file, fail, f"files.{lang}") for lang, file in source.files.items()}
    lacking = [lang for lang in languages if lang not in files or not adapter.configs] if adapter and not adapter.hub else []
    if where is None and adapter is not None and lacking:
        raise fail("from", f"{source.dataset} has no hub copy: give a local copy's path"
                           f"{' (or files for ' + ', '.join(lacking) + ')' if adapter.configs else ''}{'; ' + adapter.note if adapter.note else ''}")
    shots = source.shots if source.shots is not None else (adapter.shots if adapter else 0)
    if source.columns is not None and source.dataset != "generic":
        raise fail("columns", f"names the columns of a generic source's TSV files; the {source.dataset} adapter knows its"
                              " dataset's columns: remove columns")
    exemplars = _local_path(source.exemplars, fail, "exemplars") if source.exemplars is not None else None
    shipped = adapter.exemplars.path if adapter is not None and adapter.exemplars is not None else None
    if shots:
        try:
            read_exemplars(Path(exemplars) if exemplars is not None else None, languages, shots, shipped)
        except InputError as e:
            raise fail("exemplars", str(e)) from None
    return SourceSpec(dataset=source.dataset, role=source.role, where=where, languages=languages, per_lang=source.per_lang,
                      files=files, revision=source.revision, task=source.task, fields=_fields(source), lang=source.lang,
                      shots=source.shots, exemplars=exemplars, columns=tuple(source.columns or ()))


def _fields(source: _Source) -> dict[str, str]:
    fields: dict[str, str] = {kit: theirs for kit, theirs in source.fields.items()}
    return fields


def _check_dataset(source: _Source, fail: Fail) -> Adapter | None:
    """The source's adapter (None: generic, its task and field mapping checked) and its role."""
    if source.dataset == "generic":
        if source.task is None:
            raise fail("task", f"a generic source needs a task: {EXPECTED['task']}")
        try:
            generic_adapter(source.task, _fields(source), source.lang)
        except InputError as e:
            raise fail("fields", str(e)) from None
        return None
    if source.dataset not in ADAPTERS:
        raise fail("dataset", f"unknown adapter {source.dataset!r}; must be {EXPECTED['dataset']}")
    adapter = ADAPTERS[source.dataset]
    for key in ("task", "fields"):
        if getattr(source, key):
            raise fail(key, f"for a generic source only; {source.dataset}'s are its adapter's: remove {key}")
    if source.role not in adapter.splits:
        raise fail("role", f"{source.dataset} has no {source.role} data; it gives {', '.join(adapter.splits)}")
    return adapter


def _check_languages(source: _Source, adapter: Adapter | None, fail: Fail) -> tuple[str, ...]:
    """The source's languages, each listed once, each with data, and `lang` and `files` among them."""
    languages = tuple(source.languages) if source.languages is not None else PAPER_LANGUAGES
    if twice := sorted(lang for lang in set(languages) if languages.count(lang) > 1):
        raise fail("languages", f"{twice[0]} is listed twice; list each once")
    if source.lang is not None:
        if adapter is not None and (adapter.configs is not None or adapter.lang_of is not None):
            raise fail("lang", f"{source.dataset} knows each row's language itself: remove lang")
        if source.lang not in languages:
            raise fail("lang", f"{source.lang} is not among languages ({', '.join(languages)}): every row would be skipped")
    for lang in source.files:
        if adapter is None or adapter.configs is None:
            raise fail(f"files.{lang}", f"{source.dataset} reads one source for all languages; give the file as from")
        if lang not in languages:
            raise fail(f"files.{lang}", f"{lang} is not among languages ({', '.join(languages)}): add it there or remove the file")
    if adapter is not None and adapter.configs is not None:
        if missing := [lang for lang in languages if lang not in adapter.configs and lang not in source.files]:
            raise fail("languages", f"{source.dataset} has no {missing[0]} data; give files: {{{missing[0]}: <path>}}"
                                    f" or leave {missing[0]} out{'; ' + adapter.note if adapter.note else ''}")
    return languages


def _local_path(value: str, fail: Fail, key: str) -> str:
    """A local path that exists (`~` expanded), or InputError naming the key (and for `from`, the rule
    that made it a local path)."""
    path = Path(value).expanduser()
    if not path.exists():
        rule = ("; it is read as a local path: a hub id has the form owner/name, without a leading ./ or /"
                " and without a file extension") if key == "from" else ""
        raise fail(key, f"{value if value.isprintable() else repr(value)}: no such file or folder (relative to the current folder, {Path.cwd()}){rule}")
    return str(path) if value.startswith("~") else value


def _problems(error: ValidationError) -> str:
    """The schema's errors as one line: each key path, what it must be and what it was."""
    lines = [_problem(e) for e in error.errors(include_url=False)]
    return "; ".join(lines[:3]) + (f"; and {len(lines) - 3} more" if len(lines) > 3 else "")


def _problem(e: Any) -> str:
    loc = tuple(part for part in e["loc"] if part != "[key]")
    key = "".join(f"[{part}]" if isinstance(part, int) else ("." if n else "") + str(part) if _PLAIN.fullmatch(str(part))
                  else f"[{str(part)!r}]" for n, part in enumerate(loc))
    if e["type"] == "missing":
        return f"{key}: missing; give {EXPECTED.get(str(loc[-1]), 'it')}"
    if e["type"] == "extra_forbidden":
        known = "seed, sources" if len(loc) == 1 else SOURCE_KEYS
        return f"{key}: unknown key; {'a data config has' if len(loc) == 1 else 'a source has'} {known}"
    field = str(loc[2]) if len(loc) > 2 and loc[0] == "sources" else str(loc[0])
    if "[key]" in e["loc"]:
        return f"{key}: not a key of {field}; {field} is {EXPECTED[field]}"
    if loc[0] == "sources" and len(loc) == 2:
        return f"{key}: must be a table with dataset and role (and from, languages, ...), got {_shown(e['input'])}"
    return f"{key}: must be {EXPECTED.get(field, e['msg'])}, got {_shown(e['input'])}"


def _shown(value: Any) -> str:
    """A value as the error shows it: short, on one line."""
    if isinstance(value, (dict, list)):
        return f"a {'table' if isinstance(value, dict) else 'list'} {_clip(repr(value))}"
    return _clip(repr(value))


def _clip(text: str, most: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 3] + "..."
