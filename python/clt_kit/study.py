"""The study as data: its mixtures, settings, k grids, figures and tables, read from study.toml.

The file beside this module declares the experiment; this module reads it into typed records,
checks it (every error names the file, the entry and the fix), and derives the runs a figure needs
(`Study.plan`). Nothing else in the kit lists k values, mixtures or which figure or table needs what.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from clt_kit.jsonio import InputError
from clt_kit.languages import ENGLISH, PAPER_LANGUAGES

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, as a package (pyproject.toml)
    import tomli as tomllib

STUDY_FILE = Path(__file__).with_name("study.toml")
# The plots figures.py can draw (a figure's `draw`), and the tables tables.py can (a table's).
DRAWS = ("rel_to_english", "seen_unseen", "script_groups", "gap")
TABLE_DRAWS = ("per_language", "dynamics")
# The mixture a k=0 run is stored under: English only is the same data whatever the mixture.
ENGLISH_ONLY_MIXTURE = "all"


def is_point_of(mixture: str, run_mixture: str, k: int) -> bool:
    """Whether a run (of `run_mixture`, at `k`) is a point of `mixture`'s curve: its own runs, and
    the English-only k=0 run, which every mixture shares."""
    return run_mixture == mixture or (k == 0 and run_mixture == ENGLISH_ONLY_MIXTURE)


@dataclass(frozen=True)
class Task:
    """One task of the study: its code (IF, SM, MR), what it is, its metric, its colour in figures."""

    code: str
    name: str
    metric: str
    color: str


@dataclass(frozen=True)
class Mixture:
    """Which non-English languages the fine-tuning data has ("seen")."""

    name: str
    about: str
    seen: tuple[str, ...]


@dataclass(frozen=True)
class Setting:
    """What one run trains on, and its k grid at each scale. A joint setting (`tasks` given) trains
    each run on all of its tasks at once, `english_share` of the scale's English examples per task
    plus k per seen language per task, and evaluates the run on each; its runs' task is the
    setting's name. Otherwise a run trains on one task and is evaluated on it."""

    name: str
    about: str
    k: dict[str, tuple[int, ...]]  # scale name -> k values, ascending
    tasks: tuple[str, ...] = ()
    english_share: float = 1.0

    @property
    def joint(self) -> bool:
        return bool(self.tasks)


@dataclass(frozen=True)
class RunSet:
    """The runs a figure or table shows: of one setting, its mixtures, models and tasks, at every k
    of the setting's grid."""

    setting: str
    mixtures: tuple[str, ...]
    models: tuple[str, ...]
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class FigureSpec(RunSet):
    """One figure of the paper: the runs it needs and the plot that draws it."""

    number: int = 0
    about: str = ""
    draw: str = ""


@dataclass(frozen=True)
class TableSpec(RunSet):
    """One of the paper's per-language tables: one model, task and mixture; a row per k, a column
    per language, the kit's value beside the paper's (`paper_reference` rows of the same number)."""

    number: int = 0
    about: str = ""
    draw: str = "per_language"


@dataclass(frozen=True, order=True)
class RunKey:
    """What identifies one run of the study at a scale and seed: (setting, mixture, model, task, k);
    the task of a joint setting's run is the setting's name (Study.tasks_of: what it trains on)."""

    setting: str
    mixture: str
    model: str
    task: str
    k: int


@dataclass(frozen=True)
class Study:
    tasks: dict[str, Task]
    mixtures: dict[str, Mixture]
    settings: dict[str, Setting]
    figures: dict[int, FigureSpec]
    tables: dict[int, TableSpec]
    source: Path

    def figure(self, number: int) -> FigureSpec:
        if number not in self.figures:
            raise ValueError(f"figure {number} is not supported yet; supported: {', '.join(map(str, sorted(self.figures)))}")
        return self.figures[number]

    def table(self, number: int) -> TableSpec:
        if number not in self.tables:
            raise ValueError(f"table {number} is not supported yet; supported: {', '.join(map(str, sorted(self.tables)))}")
        return self.tables[number]

    def k_grid(self, setting: str, scale: str) -> tuple[int, ...]:
        grids = self.settings[setting].k
        if scale not in grids:
            raise ValueError(f"{self.source}: settings.{setting}.k has no grid for scale {scale!r}; add `{scale} = [0, ...]` there")
        return grids[scale]

    def tasks_of(self, setting: str, task: str) -> tuple[str, ...]:
        """The tasks a run of `setting` labelled `task` trains on and is evaluated on."""
        return self.settings[setting].tasks or (task,)

    def run_task(self, setting: str, task: str) -> str:
        """The task label of the run of `setting` that a figure or table showing `task` needs."""
        return setting if self.settings[setting].joint else task

    def plan(self, targets: list[RunSet], scale: str, models: tuple[str, ...], ks: tuple[int, ...] | None = None) -> list[RunKey]:
        """The runs the figures and tables `targets` show at `scale`, for those of their models
        the scale has (`models`: the scale's analogues, in order), each once (figures that share
        runs plan them once; the k=0 run is shared by the mixtures), in a fixed order. `ks`, when
        given, is the k grid of every setting in place of the declared ones (a small trial run)."""
        keys: set[RunKey] = set()
        for runs in targets:
            present = [m for m in runs.models if m in models]
            if not present:
                raise ValueError(f"scale {scale!r} has no analogue of the models of {_name(runs)} ({', '.join(runs.models)})")
            keys |= {
                RunKey(runs.setting, ENGLISH_ONLY_MIXTURE if k == 0 else mixture, model, self.run_task(runs.setting, task), k)
                for model in present for task in runs.tasks for mixture in runs.mixtures for k in (ks or self.k_grid(runs.setting, scale))
            }
        order = [*self.tasks, *self.settings]
        return sorted(keys, key=lambda r: (models.index(r.model), list(self.settings).index(r.setting), order.index(r.task),
                                           r.mixture != ENGLISH_ONLY_MIXTURE, r.mixture, r.k))


def _name(runs: RunSet) -> str:
    return f"{'figure' if isinstance(runs, FigureSpec) else 'table'} {getattr(runs, 'number', '?')}"


def _fail(source: Path, where: str, problem: str) -> InputError:
    return InputError(f"{source}: {where}: {problem}")


def _strings(source: Path, where: str, value: Any, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _fail(source, where, f"must be a non-empty list of strings, got {value!r}")
    if len(set(value)) != len(value):
        raise _fail(source, where, f"lists an entry twice: {value!r}")
    if allowed is not None and (unknown := [v for v in value if v not in allowed]):
        raise _fail(source, where, f"unknown {', '.join(map(repr, unknown))}; choose from {', '.join(allowed)}")
    return tuple(value)


def _text(source: Path, where: str, table: dict[str, Any], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise _fail(source, f"{where}.{key}", f"must be a non-empty string, got {value!r}")
    return value


def _keys(source: Path, where: str, table: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _fail(source, where, f"must be a table, got {table!r}")
    if extra := sorted(set(table) - allowed):
        raise _fail(source, where, f"unknown key(s) {', '.join(extra)}; the keys are {', '.join(sorted(allowed))}")
    return table


def _mixture(source: Path, name: str, table: Any) -> Mixture:
    where = f"mixtures.{name}"
    table = _keys(source, where, table, {"about", "seen"})
    others = tuple(lang for lang in PAPER_LANGUAGES if lang != ENGLISH)
    return Mixture(name, _text(source, where, table, "about"), _strings(source, f"{where}.seen", table.get("seen"), others))


def _grid(source: Path, where: str, value: Any) -> tuple[int, ...]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
        raise _fail(source, where, f"must be a non-empty list of non-negative integers, got {value!r}")
    if list(value) != sorted(set(value)):
        raise _fail(source, where, f"must be ascending, each k once, got {value!r}")
    return tuple(value)


def _setting(source: Path, name: str, table: Any, tasks: dict[str, Task]) -> Setting:
    where = f"settings.{name}"
    if name in tasks:  # a joint setting's runs carry its name as their task
        raise _fail(source, where, f"a setting may not be named as a task ({name!r}); rename it")
    table = _keys(source, where, table, {"about", "k", "tasks", "english_share"})
    grids = _keys(source, f"{where}.k", table.get("k", {}), set(table.get("k", {})))
    if not grids:
        raise _fail(source, f"{where}.k", "declares no k grid; add one per scale, e.g. `mini = [0, 50, 100]`")
    joint = _strings(source, f"{where}.tasks", table["tasks"], tuple(tasks)) if "tasks" in table else ()
    share = table.get("english_share", 1.0)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise _fail(source, f"{where}.english_share", f"must be a number in (0, 1], got {share!r}")
    if share != 1.0 and not joint:
        raise _fail(source, f"{where}.english_share", "applies to a joint setting only (one with `tasks`)")
    return Setting(name, _text(source, where, table, "about"), {scale: _grid(source, f"{where}.k.{scale}", v) for scale, v in grids.items()},
                   joint, float(share))


def _task(source: Path, code: str, table: Any) -> Task:
    where = f"tasks.{code}"
    table = _keys(source, where, table, {"name", "metric", "color"})
    return Task(code, _text(source, where, table, "name"), _text(source, where, table, "metric"), _text(source, where, table, "color"))


def _run_set(source: Path, where: str, table: dict[str, Any], tasks: dict[str, Task], mixtures: dict[str, Mixture],
             settings: dict[str, Setting]) -> dict[str, Any]:
    """The RunSet fields of a figure or table entry, checked."""
    setting = _text(source, where, table, "setting")
    if setting not in settings:
        raise _fail(source, f"{where}.setting", f"unknown setting {setting!r}; declared: {', '.join(settings)}")
    allowed = settings[setting].tasks or tuple(tasks)  # a joint setting's runs are evaluated on its tasks only
    return {
        "setting": setting,
        "mixtures": _strings(source, f"{where}.mixtures", table.get("mixtures"), tuple(mixtures)),
        "models": _strings(source, f"{where}.models", table.get("models")),
        "tasks": _strings(source, f"{where}.tasks", table.get("tasks"), allowed),
    }


def _numbered(source: Path, where: str, key: str) -> int:
    if not key.isdigit():
        raise _fail(source, where, f"named by its number in the paper, e.g. [{where.split('.')[0]}.2]")
    return int(key)


def _figure(source: Path, key: str, table: Any, tasks: dict[str, Task], mixtures: dict[str, Mixture], settings: dict[str, Setting]) -> FigureSpec:
    where = f"figures.{key}"
    number = _numbered(source, where, key)
    table = _keys(source, where, table, {"about", "setting", "mixtures", "models", "tasks", "draw"})
    draw = _text(source, where, table, "draw")
    if draw not in DRAWS:
        raise _fail(source, f"{where}.draw", f"unknown plot {draw!r}; choose from {', '.join(DRAWS)}")
    return FigureSpec(**_run_set(source, where, table, tasks, mixtures, settings), number=number,
                      about=_text(source, where, table, "about"), draw=draw)


def _table(source: Path, key: str, table: Any, tasks: dict[str, Task], mixtures: dict[str, Mixture], settings: dict[str, Setting]) -> TableSpec:
    where = f"tables.{key}"
    number = _numbered(source, where, key)
    table = _keys(source, where, table, {"about", "setting", "mixtures", "models", "tasks", "draw"})
    runs = _run_set(source, where, table, tasks, mixtures, settings)
    draw = _text(source, where, table, "draw")
    if draw not in TABLE_DRAWS:
        raise _fail(source, f"{where}.draw", f"unknown table {draw!r}; choose from {', '.join(TABLE_DRAWS)}")
    for field in ("mixtures", "models", "tasks") if draw == "per_language" else ():
        if len(runs[field]) != 1:
            raise _fail(source, f"{where}.{field}", f"a per-language table shows one: list exactly one, got {list(runs[field])!r}")
    return TableSpec(**runs, number=number, about=_text(source, where, table, "about"), draw=draw)


def load_study(path: Path = STUDY_FILE) -> Study:
    """The study declared in `path`, checked; InputError names the file and the entry at fault."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML ({e}); fix the line it names") from e
    data = _keys(path, "the file", data, {"tasks", "mixtures", "settings", "figures", "tables"})
    tasks = {code: _task(path, code, t) for code, t in _keys(path, "tasks", data.get("tasks", {}), set(data.get("tasks", {}))).items()}
    if not tasks:
        raise _fail(path, "tasks", "declares no task; add [tasks.<code>] tables")
    mixtures = {name: _mixture(path, name, t) for name, t in _keys(path, "mixtures", data.get("mixtures", {}), set(data.get("mixtures", {}))).items()}
    if ENGLISH_ONLY_MIXTURE not in mixtures:
        raise _fail(path, "mixtures", f"must declare mixture {ENGLISH_ONLY_MIXTURE!r} (the k=0 runs are stored under it)")
    settings = {name: _setting(path, name, t, tasks) for name, t in _keys(path, "settings", data.get("settings", {}), set(data.get("settings", {}))).items()}
    figures_table = _keys(path, "figures", data.get("figures", {}), set(data.get("figures", {})))
    figures = {fig.number: fig for fig in (_figure(path, key, t, tasks, mixtures, settings) for key, t in figures_table.items())}
    tables_table = _keys(path, "tables", data.get("tables", {}), set(data.get("tables", {})))
    tables = {t.number: t for t in (_table(path, key, t, tasks, mixtures, settings) for key, t in tables_table.items())}
    return Study(tasks, mixtures, settings, dict(sorted(figures.items())), dict(sorted(tables.items())), path)


@cache
def study() -> Study:
    """The kit's study (study.toml beside this module), read once."""
    return load_study()


# The study's task codes, in order: what every stage iterates over.
TASKS: tuple[str, ...] = tuple(study().tasks)
