"""The answer to "how much non-English data does my mix need?": fitted curves of score against k,
with intervals, the k that reaches a target, and the k values worth running next.

A curve is one (model, task, setting, mixture, group) of a results database (the kit's runs of one
scale) or of the paper's own numbers; its group is `non_english` (the non-English mean relative to
English, as `rel_to_english`), `seen`, `unseen` (the means of views `seen_unseen`) or a language
code. Each is fitted with the saturating form of results/curves.py, and its uncertainty comes
from the data: for the kit's runs, a bootstrap over the test items of every run (and, where a k
has several runs, over those runs); for the paper's numbers, which come without per-item scores,
a bootstrap of the fit's residuals. docs/advise.md explains the model, the targets and the limits.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from clt_kit.jsonio import InputError
from clt_kit.languages import ENGLISH, GROUPS, NON_ENGLISH, PAPER_LANGUAGES, SEEN, UNSEEN
from clt_kit.results import curves
from clt_kit.results.db import connect, migrate, run_kinds, transaction
from clt_kit.seeding import derive_seed
from clt_kit.study import ENGLISH_ONLY_MIXTURE, study

GROUP_LANGS: dict[str, tuple[str, ...]] = {"seen": SEEN, "unseen": UNSEEN, **{lang: (lang,) for lang in PAPER_LANGUAGES}}
DEFAULT_GAIN_SHARE = 0.9
DEFAULT_LEVEL = 0.9
DEFAULT_BOOTSTRAP = 200
ANSWERED, BEYOND, NO_GAIN, UNREACHABLE, TOO_FEW = "answered", "beyond", "no_gain", "unreachable", "too_few_runs"
UNDEFINED = "undefined"  # relative to English where English scored 0

CurveKey = tuple[str, str, str, str, str]  # model, task, setting, mixture, group


@dataclass(frozen=True)
class Target:
    """What "enough data" means: `gain_share` of the gain from k=0 to the fitted plateau, or, with
    `rel`, a value of `rel` times English (for group non_english, which is relative to English
    already: `rel` itself)."""

    gain_share: float | None = DEFAULT_GAIN_SHARE
    rel: float | None = None

    def __post_init__(self) -> None:
        if (self.gain_share is None) == (self.rel is None):
            raise ValueError("a target is a share of the gain or a share of English, one of the two")

    def label(self) -> str:
        return f"gain:{self.gain_share:g}" if self.rel is None else f"rel:{self.rel:g}"

    def about(self) -> str:
        return (f"{self.gain_share:.0%} of the gain from k=0 to the plateau" if self.rel is None
                else f"{self.rel:.0%} of English's score")


@dataclass(frozen=True)
class Curve:
    """Points of one curve: the k of each point, its value, B bootstrap replicates of the values,
    and English's score at each point (for targets relative to English)."""

    key: CurveKey
    ks: np.ndarray  # [n]
    values: np.ndarray  # [n]
    replicates: np.ndarray  # [B, n]
    english: float  # English's mean score over the points
    english_replicates: np.ndarray  # [B]: the same in each replicate

    @property
    def k_max(self) -> int:
        return int(self.ks.max())


@dataclass(frozen=True)
class Advice:
    model: str
    task: str
    setting: str
    mixture: str
    group: str
    k_needed: int | None  # None: no k reaches the target (or too few runs to say)
    k_low: int | None
    k_high: int | None
    plateau: float | None
    at_k0: float | None
    status: str
    message: str
    target: str
    form: str
    level: float
    k_max: int
    n_points: int
    half_k: float | None

    def record(self) -> dict[str, Any]:
        return asdict(self)


# Curves of the kit's runs ---------------------------------------------------------------------

EXAMPLES_SQL = """
SELECT r.run_id, r.model, e.task, r.setting, r.mixture, r.k, e.lang, e.score
FROM runs r JOIN examples e USING (run_id)
WHERE r.status = 'done' AND r.scale = ? AND (? IS NULL OR r.seed = ?)
ORDER BY r.run_id, e.task, e.lang, e.example_id
"""


def _item_means(scores: list[float], rng: np.random.Generator, replicates: int) -> np.ndarray:
    """The mean of `scores` and `replicates` bootstrap means (items drawn with replacement): [1 + B]."""
    values = np.asarray(scores, float)
    drawn = values[rng.integers(0, values.size, size=(replicates, values.size))].mean(axis=1)
    return np.concatenate([[values.mean()], drawn])


def _group_values(by_lang: dict[str, np.ndarray], group: str) -> np.ndarray | None:
    """A group's value from per-language values ([1 + B] each); None where the run lacks its languages."""
    if group == "non_english":
        langs = [lang for lang in NON_ENGLISH if lang in by_lang]
        if not langs or ENGLISH not in by_lang:
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.mean([by_lang[lang] for lang in langs], axis=0) / by_lang[ENGLISH]
    langs = [lang for lang in GROUP_LANGS[group] if lang in by_lang]
    return np.mean([by_lang[lang] for lang in langs], axis=0) if langs else None


def kit_curves(con: duckdb.DuckDBPyConnection, scale: str, seed: int | None, bootstrap: int, boot_seed: int) -> list[Curve]:
    """Every curve of the kit's runs of `scale` (of one seed, or of all: several runs at one k)."""
    rows = con.execute(EXAMPLES_SQL, [scale, seed, seed]).fetchall()
    scores: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    about: dict[tuple[str, str], tuple[str, str, str, int]] = {}
    for run_id, model, task, setting, mixture, k, lang, score in rows:
        scores[(run_id, task)][lang].append(score)
        about[(run_id, task)] = (model, setting, mixture, k)
    rng = np.random.default_rng(derive_seed(boot_seed, "advise/items"))
    values = {point: {lang: _item_means(s, rng, bootstrap) for lang, s in sorted(by_lang.items())}
              for point, by_lang in sorted(scores.items())}
    members: dict[tuple[str, str, str, str], list[tuple[str, str]]] = defaultdict(list)
    for point, (model, setting, mixture, k) in sorted(about.items()):
        members[(model, point[1], setting, mixture)].append(point)
    for (model, task, setting, mixture), points in list(members.items()):  # the shared English-only k=0 run
        if mixture != ENGLISH_ONLY_MIXTURE:
            continue
        zero = [p for p in points if about[p][3] == 0]
        for other in sorted({key[3] for key in members if key[:3] == (model, task, setting) and key[3] != mixture}):
            members[(model, task, setting, other)].extend(p for p in zero if p not in members[(model, task, setting, other)])
    out = []
    for (model, task, setting, mixture), points in sorted(members.items()):
        ks = np.array([about[p][3] for p in points], float)
        english = [values[p].get(ENGLISH) for p in points]
        for group in GROUPS:
            per_point = [_group_values(values[p], group) for p in points]
            if any(v is None for v in per_point) or any(e is None for e in english):
                continue
            stacked, en = np.stack(per_point, axis=1), np.stack(english, axis=1)  # [1 + B, n]
            replicates, en_reps = _resample_repeated_k(ks, stacked[1:], en[1:], rng)
            out.append(Curve((model, task, setting, mixture, group), ks, stacked[0], replicates,
                             float(en[0].mean()), en_reps.mean(axis=1)))
    return out


def _resample_repeated_k(ks: np.ndarray, reps: np.ndarray, english: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Where a k has several runs (seeds), each replicate draws that k's runs with replacement."""
    reps, english = reps.copy(), english.copy()
    for k in np.unique(ks):
        slots = np.flatnonzero(ks == k)
        if slots.size > 1:
            drawn = slots[rng.integers(0, slots.size, size=(reps.shape[0], slots.size))]
            rows = np.arange(reps.shape[0])[:, None]
            reps[:, slots], english[:, slots] = reps[rows, drawn], english[rows, drawn]
    return reps, english


# Curves of the paper's numbers ----------------------------------------------------------------

PAPER_SQL = "SELECT model, task, setting, mixture, table_no, k, lang, value FROM paper_reference WHERE lang <> 'Avg' ORDER BY ALL"


def paper_curves(con: duckdb.DuckDBPyConnection, bootstrap: int, boot_seed: int) -> list[Curve]:
    """The paper's curves (one per table and group); replicates by a bootstrap of the point fit's residuals."""
    table: dict[tuple[str, str, str, str], dict[int, dict[str, np.ndarray]]] = defaultdict(lambda: defaultdict(dict))
    for model, task, setting, mixture, _, k, lang, value in con.execute(PAPER_SQL).fetchall():
        table[(model, task, setting, mixture)][k][lang] = np.array([value])
    rng = np.random.default_rng(derive_seed(boot_seed, "advise/residuals"))
    out = []
    for (model, task, setting, mixture), by_k in sorted(table.items()):
        ks = np.array(sorted(by_k), float)
        english = np.array([float(by_k[int(k)][ENGLISH][0]) for k in ks])
        for group in GROUPS:
            values = np.array([float(_group_values(by_k[int(k)], group)[0]) for k in ks])
            out.append(Curve((model, task, setting, mixture, group), ks, values, _residual_replicates(ks, values, rng, bootstrap),
                             float(english.mean()), np.full(bootstrap, english.mean())))
    return out


def _residual_replicates(ks: np.ndarray, values: np.ndarray, rng: np.random.Generator, bootstrap: int) -> np.ndarray:
    fitted = curves.fit(ks, values)
    predicted = fitted.predict(ks)[0]
    residuals = (values - predicted) * math.sqrt(ks.size / max(ks.size - 3, 1))  # 3 parameters fitted
    return predicted[None, :] + residuals[rng.integers(0, ks.size, size=(bootstrap, ks.size))]


# The advice -----------------------------------------------------------------------------------

def _needed(fits: curves.Fits, target: Target, english: np.ndarray | float, group: str) -> np.ndarray:
    """k_needed of each fit; `english`: English's mean score, one for all fits or one per fit."""
    if target.rel is None:
        return fits.k_for_gain_share(target.gain_share)
    goal = target.rel if group == "non_english" else target.rel * np.asarray(english, float)
    return fits.k_for_value(np.broadcast_to(goal, fits.h.shape))


def _int_or_none(value: float) -> int | None:
    return int(math.ceil(value)) if math.isfinite(value) else None


def advise_curve(curve: Curve, target: Target, level: float = DEFAULT_LEVEL) -> Advice:
    """The smallest k reaching `target` on the curve's fit, with the bootstrap's `level` interval."""
    model, task, setting, mixture, group = curve.key
    common = dict(model=model, task=task, setting=setting, mixture=mixture, group=group, target=target.label(),
                  form=curves.DEFAULT_FORM, level=level, k_max=curve.k_max, n_points=int(curve.ks.size))
    unanswered = dict(k_needed=None, k_low=None, k_high=None, plateau=None, at_k0=None, half_k=None)
    if not np.isfinite(curve.values).all():
        zero = sorted({int(k) for k, v in zip(curve.ks, curve.values) if not np.isfinite(v)})
        return Advice(**unanswered, status=UNDEFINED, message=f"cannot answer: English scored 0 at k = {zero}, so relative to"
                      " English is undefined there", **common)
    try:
        point = curves.fit(curve.ks, curve.values)
    except ValueError as e:
        return Advice(**unanswered, status=TOO_FEW, message=f"cannot answer: {e} (runs at k = {sorted({int(k) for k in curve.ks})})", **common)
    kept = finite(curve)
    reps = curves.fit(kept.ks, kept.replicates)
    needed = float(_needed(point, target, curve.english, group)[0])
    spread = _needed(reps, target, kept.english_replicates, group)
    low, high = np.quantile(spread, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    at_k0, plateau = float(point.at_k0[0]), float(point.plateau[0])
    status, message = _verdict(needed, at_k0, plateau, int(curve.ks[curve.ks > 0].min()), curve.k_max, target)
    return Advice(k_needed=_int_or_none(needed), k_low=_int_or_none(float(low)), k_high=_int_or_none(float(high)),
                  plateau=plateau, at_k0=at_k0, half_k=float(point.h[0]), status=status, message=message, **common)


def _verdict(needed: float, at_k0: float, plateau: float, k_min: int, k_max: int, target: Target) -> tuple[str, str]:
    if target.rel is None and plateau <= at_k0:
        return NO_GAIN, f"more data does not raise it: the fitted plateau {plateau:.3f} is not above the value at k=0 ({at_k0:.3f})"
    if not math.isfinite(needed):
        return UNREACHABLE, f"no k reaches {target.about()}: the fitted plateau {plateau:.3f} stays under it"
    if needed > k_max:
        return BEYOND, f"needs runs beyond k={k_max}: the fit puts it at k={math.ceil(needed)}, an extrapolation"
    if 0 < needed < k_min:
        return ANSWERED, f"reached by the smallest k run ({k_min}); the fit's k={math.ceil(needed)} below it is an extrapolation"
    return ANSWERED, f"k={math.ceil(needed)} reaches {target.about()}"


def advise(curve_list: list[Curve], target: Target, level: float = DEFAULT_LEVEL) -> list[Advice]:
    return [advise_curve(c, target, level) for c in curve_list]


# What to run next ------------------------------------------------------------------------------

def candidate_ks(ks: np.ndarray) -> list[int]:
    """k values not yet run: the geometric midpoints between the positive k values run, half the
    smallest, and twice and four times the largest, each rounded to two significant digits."""
    run = sorted({int(k) for k in ks if k > 0})
    raw = [run[0] / 2, *(math.sqrt(a * b) for a, b in zip(run, run[1:])), 2 * run[-1], 4 * run[-1]]
    rounded = {int(float(f"{x:.2g}")) for x in raw if x >= 1}
    return sorted(rounded - set(run))


def _width(spread: np.ndarray, level: float, cap: float) -> float:
    low, high = np.quantile(np.minimum(spread, cap), [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return float(high - low)


def narrowing(curve: Curve, target: Target, candidate: int, level: float, rng: np.random.Generator) -> float:
    """How much a run at `candidate` would narrow the interval of k_needed (share of its width, 0-1):
    each bootstrap replicate gets a simulated point there, the point fit's value plus noise of the
    size the curve's points have, and is fitted again."""
    point = curves.fit(curve.ks, curve.values)
    noise = float(np.mean(curve.replicates.std(axis=0)))
    cap = 100.0 * curve.k_max  # an interval reaching past this counts as this wide
    english = curve.english_replicates
    now = _width(_needed(curves.fit(curve.ks, curve.replicates), target, english, curve.key[4]), level, cap)
    if now <= 0:
        return 0.0
    simulated = float(point.predict(np.array([candidate]))[0, 0]) + rng.normal(0.0, noise, size=curve.replicates.shape[0])
    ks = np.append(curve.ks, candidate)
    after = _width(_needed(curves.fit(ks, np.column_stack([curve.replicates, simulated])), target, english, curve.key[4]), level, cap)
    return max(0.0, (now - after) / now)


def finite(curve: Curve) -> Curve:
    """The curve with only its replicates whose every value is defined (a replicate that drew no
    English score above 0 has a relative-to-English value of inf or nan)."""
    kept = np.isfinite(curve.replicates).all(axis=1)
    return Curve(curve.key, curve.ks, curve.values, curve.replicates[kept], curve.english, curve.english_replicates[kept])


@dataclass(frozen=True)
class NextRun:
    k: int
    narrowing: float  # mean over the curves of the share of k_needed's interval it would remove
    curves: int


def next_runs(curve_list: list[Curve], target: Target, count: int = 2, level: float = DEFAULT_LEVEL, boot_seed: int = 0) -> list[NextRun]:
    """The `count` k values whose runs would most narrow the intervals of k_needed of these curves
    (those that can be fitted), best first; only k values that narrow them at all."""
    fitted = [finite(c) for c in curve_list
              if np.isfinite(c.values).all() and np.unique(c.ks[c.ks > 0]).size >= 2 and (c.ks == 0).any()]
    if not fitted:
        return []
    gains: dict[int, list[float]] = defaultdict(list)
    rng = np.random.default_rng(derive_seed(boot_seed, "advise/next"))
    for curve in fitted:
        for k in candidate_ks(curve.ks):
            gains[k].append(narrowing(curve, target, k, level, rng))
    ranked = sorted((NextRun(k, float(np.mean(g)), len(g)) for k, g in gains.items()), key=lambda r: (-r.narrowing, r.k))
    return [r for r in ranked if r.narrowing > 0][:count]


# Storing the fits ---------------------------------------------------------------------------------

def store(con: duckdb.DuckDBPyConnection, advice: list[Advice], source: str, scale: str | None, seed: int | None, bootstrap: int) -> None:
    """Replaces the stored fits of this source, scale, seed and target with `advice` (table curve_fits)."""
    targets = sorted({a.target for a in advice})
    now = datetime.now().replace(microsecond=0)
    with transaction(con):
        con.execute("DELETE FROM curve_fits WHERE source = ? AND scale IS NOT DISTINCT FROM ? AND seed IS NOT DISTINCT FROM ?"
                    " AND list_contains(?, target)", [source, scale, seed, targets])
        con.executemany(
            "INSERT INTO curve_fits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[source, scale, seed, a.model, a.task, a.setting, a.mixture, a.group, a.target, a.form, a.level,
              a.at_k0, a.plateau, a.half_k, a.k_needed, a.k_low, a.k_high, a.k_max, a.n_points, a.status, a.message,
              bootstrap, now] for a in advice])


# Reading a database --------------------------------------------------------------------------------

def load_curves(con: duckdb.DuckDBPyConnection, paper: bool, scale: str | None, seed: int | None,
                bootstrap: int = DEFAULT_BOOTSTRAP, boot_seed: int = 0) -> list[Curve]:
    """The paper's curves, or the kit's of `scale` (seed None: every seed)."""
    if paper:
        return paper_curves(con, bootstrap, boot_seed)
    assert scale is not None
    return kit_curves(con, scale, seed, bootstrap, boot_seed)


# Printing ----------------------------------------------------------------------------------------

def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _k(value: int | None) -> str:
    return "never" if value is None else str(value)


def advice_text(advice: list[Advice], groups: tuple[str, ...]) -> str:
    """Per (model, task, setting, mixture): the target, then a row per group."""
    lines: list[str] = []
    by_curve: dict[tuple[str, str, str, str], list[Advice]] = defaultdict(list)
    for a in advice:
        if a.group in groups:
            by_curve[(a.model, a.task, a.setting, a.mixture)].append(a)
    for (model, task, setting, mixture), rows in by_curve.items():
        first = rows[0]
        lines.append(f"{model} {task} ({setting}-task, mixture {mixture}; runs at {first.n_points} points up to k={first.k_max};"
                     f" target {first.target}, {first.level:.0%} interval)")
        lines.append(f"  {'group':<12} {'at k=0':>7} {'plateau':>8} {'k_needed':>9} {'interval':>16}  verdict")
        for a in rows:
            answered = a.status not in (TOO_FEW, UNDEFINED)
            interval = f"[{_k(a.k_low)}, {_k(a.k_high)}]" if answered else "-"
            needed = _k(a.k_needed) if answered else "-"
            lines.append(f"  {a.group:<12} {_num(a.at_k0):>7} {_num(a.plateau):>8} {needed:>9} {interval:>16}  {a.message}")
    return "\n".join(lines)


def advice_markdown(advice: list[Advice], group: str) -> str:
    """One row per curve of `group`: k_needed with its interval, the value at k=0 and the plateau."""
    lines = ["| model | task | setting | mixture | k_needed | interval | at k=0 | plateau | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    for a in advice:
        if a.group == group:
            lines.append(f"| {a.model} | {a.task} | {a.setting} | {a.mixture} | {_k(a.k_needed)} | [{_k(a.k_low)}, {_k(a.k_high)}]"
                         f" | {_num(a.at_k0)} | {_num(a.plateau)} | {a.message} |")
    return "\n".join(lines) + "\n"


def next_text(runs: list[NextRun], curve_list: list[Curve], what: str) -> str:
    if not runs:
        return f"no k value would narrow the intervals of {what}: they are as narrow as more runs of this kind make them"
    run_ks = sorted({int(k) for c in curve_list for k in c.ks} | {r.k for r in runs})
    lines = [f"runs that would most narrow k_needed's interval ({what}):"]
    lines += [f"  k={r.k}: {r.narrowing:.0%} narrower on average over {r.curves} curve(s)" for r in runs]
    figures = " ".join(f"--figure {n}" for n in figures_of(curve_list)) or "<the figures that made these runs>"
    lines.append(f"run them with: clt-kit reproduce {figures} --k {','.join(map(str, run_ks))}  (finished runs are reused)")
    return "\n".join(lines)


def figures_of(curve_list: list[Curve]) -> list[int]:
    """For each curve, the first figure of the study that shows its runs (setting, mixture, model)."""
    figures = study().figures
    found = set()
    for model, _, setting, mixture, _ in {c.key for c in curve_list}:
        for number in sorted(figures):
            f = figures[number]
            if f.setting == setting and mixture in f.mixtures and model in f.models:
                found.add(number)
                break
    return sorted(found)


# One request, as the CLI makes it ----------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    db: Path  # the results database (for the paper's numbers it may be absent: they ship with the kit)
    paper: bool = False
    scale: str | None = None  # None: the one scale the database holds
    seed: int | None = None  # None: every seed
    target: Target = Target()
    level: float = DEFAULT_LEVEL
    bootstrap: int = DEFAULT_BOOTSTRAP
    boot_seed: int = 0


@dataclass(frozen=True)
class Answer:
    source: str  # what was fitted, in words
    curves: list[Curve]
    advice: list[Advice]
    stored_in: Path | None  # where the fits were stored (table curve_fits), if anywhere


def answer(request: Request) -> Answer:
    """Fits every curve of the request's source, stores them (table curve_fits) in the database when
    there is one, and returns them with their advice."""
    if not request.db.is_file() and not request.paper:
        raise InputError(f"{request.db}: no results database here; run `clt-kit reproduce --figure 2` first, pass --results,"
                         " or use --paper for the paper's own numbers")
    if request.db.is_file():
        with connect(request.db) as con:
            return _answer(con, request, request.db)
    con = duckdb.connect()
    try:
        migrate(con)
        return _answer(con, request, None)
    finally:
        con.close()


def _answer(con: duckdb.DuckDBPyConnection, request: Request, stored_in: Path | None) -> Answer:
    scale = None if request.paper else (request.scale or _the_scale(con, request.db))
    curve_list = load_curves(con, request.paper, scale, request.seed, request.bootstrap, request.boot_seed)
    if not curve_list:
        raise InputError(f"{request.db}: no finished runs of scale {scale}{'' if request.seed is None else f', seed {request.seed}'};"
                         " run `clt-kit reproduce --figure 2` at that scale first")
    advice = advise(curve_list, request.target, request.level)
    source = "paper" if request.paper else "kit"
    if stored_in is not None:
        store(con, advice, source, scale, request.seed, request.bootstrap)
    what = ("the paper's numbers" if request.paper
            else f"clt-kit {scale} runs, {'every seed' if request.seed is None else f'seed {request.seed}'}")
    return Answer(what, curve_list, advice, stored_in)


def _the_scale(con: duckdb.DuckDBPyConnection, db: Path) -> str:
    held = sorted({scale for scale, _ in run_kinds(con)})
    if len(held) == 1:
        return held[0]
    if not held:
        raise InputError(f"{db}: no finished runs yet; run `clt-kit reproduce --figure 2` first, or use --paper for the paper's own numbers")
    raise InputError(f"{db}: holds runs of several scales ({', '.join(held)}); choose one with --scale")
