"""The paper's findings as checks ("claims"), each over the curves of the results database's views,
with its threshold stated, run on the paper's own numbers (`paper_reference`) and on the kit's runs.

A curve is one measure against k for one (model, task, setting, mixture): the views'
`rel_to_english`, `seen`, `unseen`, `gap`, `latin`, `non_latin`, and `avg` (the mean over the 8
languages, as the paper's tables average them). Models are named as the paper names them (the
kit's analogues map to them through scales.PAPER_MODELS). A claim holds, does not hold, or is not
measurable (a curve it needs has no runs yet, or a value is undefined), and says its numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from clt_kit.study import ENGLISH_ONLY_MIXTURE, TASKS
from clt_kit.results import curves
from clt_kit.results.db import connect
from clt_kit.scales import PAPER_MODELS

Curve = dict[int, float]
CurveKey = tuple[str, str, str, str, str]  # measure, model, task, setting, mixture
HELD, NOT_HELD, NOT_MEASURABLE = "held", "not held", "not measurable"
AYA_7B, AYA_35B, LLAMA_8B = "aya23-7b", "aya23-35b", "llama3.1-8b"

# (measure, view, column) of the kit's runs and of the paper's numbers.
MEASURES = (
    ("rel", "rel_to_english", "rel"), ("seen", "seen_unseen", "seen"), ("unseen", "seen_unseen", "unseen"),
    ("gap", "seen_unseen", "gap"), ("latin", "script_groups", "latin"), ("non_latin", "script_groups", "non_latin"),
)
KIT_AVG_SQL = """
SELECT r.model, m.task, r.setting, r.mixture, r.k, avg(m.score)
FROM runs r JOIN metrics m USING (run_id)
WHERE r.status = 'done' AND r.scale = ? AND r.seed = ?
GROUP BY ALL
"""
PAPER_AVG_SQL = "SELECT model, task, setting, mixture, k, avg(value) FROM paper_reference WHERE lang <> 'Avg' GROUP BY ALL"


class Missing(Exception):
    """A curve a claim needs has no points (no runs yet)."""


@dataclass(frozen=True)
class Data:
    """The curves of one source: the paper's numbers, or the kit's runs of one scale and seed."""

    source: str
    curves: dict[CurveKey, Curve]

    def curve(self, measure: str, model: str, task: str, setting: str = "single", mixture: str = "all") -> Curve:
        found = self.curves.get((measure, model, task, setting, mixture), {})
        if len(found) < 2:
            raise Missing(f"{setting}-task {mixture} runs of {model} on {task} (at least two k values)")
        if any(v is None for v in found.values()):
            raise Missing(f"a defined {measure} for every k of {model} on {task} ({setting}, {mixture}; an English score of 0 leaves it undefined)")
        return dict(sorted(found.items()))


def _fill(curves: dict[CurveKey, dict[int, float]], measure: str, rows: list[tuple], paper_names: dict[str, str]) -> None:
    for model, task, setting, mixture, k, value in rows:
        curves[(measure, paper_names.get(model, model), task, setting, mixture)][k] = value


def paper_data(con: duckdb.DuckDBPyConnection) -> Data:
    curves: dict[CurveKey, dict[int, float]] = defaultdict(dict)
    for measure, view, column in MEASURES:
        _fill(curves, measure, con.execute(f"SELECT model, task, setting, mixture, k, {column} FROM paper_{view}").fetchall(), {})
    _fill(curves, "avg", con.execute(PAPER_AVG_SQL).fetchall(), {})
    return Data("paper", dict(curves))


def kit_data(con: duckdb.DuckDBPyConnection, scale: str, seed: int) -> Data:
    """The kit's curves; a mixture's curve starts at the English-only k=0 run, which every mixture shares."""
    curves: dict[CurveKey, dict[int, float]] = defaultdict(dict)
    for measure, view, column in MEASURES:
        rows = con.execute(f"SELECT model, task, setting, mixture, k, {column} FROM {view} WHERE scale = ? AND seed = ?", [scale, seed]).fetchall()
        _fill(curves, measure, rows, PAPER_MODELS)
    _fill(curves, "avg", con.execute(KIT_AVG_SQL, [scale, seed]).fetchall(), PAPER_MODELS)
    for (measure, model, task, setting, mixture), curve in list(curves.items()):
        if mixture == ENGLISH_ONLY_MIXTURE and 0 in curve:
            for other in {key[4] for key in curves if key[4] != ENGLISH_ONLY_MIXTURE}:
                if (measure, model, task, setting, other) in curves:
                    curves[(measure, model, task, setting, other)].setdefault(0, curve[0])
    return Data(f"clt-kit {scale} seed {seed}", dict(curves))


@dataclass(frozen=True)
class Verdict:
    status: str
    numbers: str


@dataclass(frozen=True)
class Claim:
    name: str
    finding: int  # the paper's finding it checks (docs/study.md, "What the paper found")
    statement: str  # what must hold, with its threshold
    measure: Callable[[Data], tuple[bool, str]]  # (holds, its numbers); raises Missing

    def check(self, data: Data) -> Verdict:
        try:
            holds, numbers = self.measure(data)
        except Missing as e:
            return Verdict(NOT_MEASURABLE, f"needs {e}")
        return Verdict(HELD if holds else NOT_HELD, numbers)


# Helpers over curves ------------------------------------------------------------------------

def gain(curve: Curve) -> float:
    """The paper's "gain": the best value over k minus the value at k=0."""
    return max(curve.values()) - curve[min(curve)]


def mean_gain(curve: Curve) -> float:
    """The mean over k > 0 of the value minus the value at k=0."""
    base, rest = curve[min(curve)], [v for k, v in curve.items() if k != min(curve)]
    return sum(v - base for v in rest) / len(rest)


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); 0 when either side is constant."""
    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for m in range(i, j + 1):
                out[order[m]] = (i + j) / 2
            i = j + 1
        return out

    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx, vy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return cov / (vx * vy) ** 0.5 if vx and vy else 0.0


def _short(model: str) -> str:
    return {AYA_7B: "7B", AYA_35B: "35B", LLAMA_8B: "Llama 8B"}.get(model, model)


# The claims ---------------------------------------------------------------------------------

MR_GAIN_FACTOR = 2.0


def _mr_gains_most(data: Data) -> tuple[bool, str]:
    holds, parts = True, []
    for model in (AYA_7B, LLAMA_8B):
        g = {task: gain(data.curve("rel", model, task)) for task in TASKS}
        holds &= g["MR"] >= MR_GAIN_FACTOR * max(g["IF"], g["SM"])
        parts.append(f"{_short(model)}: MR {g['MR']:+.3f}, IF {g['IF']:+.3f}, SM {g['SM']:+.3f}")
    return holds, "; ".join(parts)


def _unseen_track_seen(data: Data) -> tuple[bool, str]:
    holds, parts = True, []
    for model in (AYA_7B, AYA_35B, LLAMA_8B):
        for task in TASKS:
            seen, unseen = data.curve("seen", model, task), data.curve("unseen", model, task)
            ks = sorted(set(seen) & set(unseen))
            rho = spearman([seen[k] for k in ks], [unseen[k] for k in ks])
            holds &= rho > 0
            parts.append(f"{_short(model)} {task} {rho:+.2f}")
    return holds, "Spearman over k: " + ", ".join(parts)


REL_AT_ZERO_35B = 0.75


def _english_only_gets_far_at_35b(data: Data) -> tuple[bool, str]:
    holds, parts = True, []
    for task in TASKS:
        big, small = data.curve("rel", AYA_35B, task)[0], data.curve("rel", AYA_7B, task)[0]
        holds &= big >= small and big >= REL_AT_ZERO_35B
        parts.append(f"{task} {big:.3f} vs {small:.3f}")
    return holds, "relative to English at k=0, 35B vs 7B: " + ", ".join(parts)


NEEDED_SHARE, MR_DATA_FACTOR = 0.9, 2.5


def k_needed(curve: Curve, share: float = NEEDED_SHARE) -> float:
    """The k at which the curve's saturating fit (results/curves.py) makes `share` of its gain from
    k=0 to its plateau: what `clt-kit advise` reports, without the interval."""
    try:
        fitted = curves.fit(np.array(list(curve), float), np.array(list(curve.values()), float))
    except ValueError as e:
        raise Missing(f"runs at k=0 and two positive k values ({e})") from None
    return float(fitted.k_for_gain_share(share)[0])


def _mr_needs_more_data(data: Data) -> tuple[bool, str]:
    k = {task: k_needed(data.curve("rel", AYA_7B, task)) for task in TASKS}
    other = max(k["IF"], k["SM"])
    holds = k["MR"] >= MR_DATA_FACTOR * other
    ratio = f"{k['MR'] / other:.1f}x" if other else "the others need none"
    return holds, (f"k at which the fit makes {NEEDED_SHARE:.0%} of its gain: MR {k['MR']:.0f}, IF {k['IF']:.0f},"
                   f" SM {k['SM']:.0f} ({ratio})")


PLATEAU_NEAR = 0.05


def _left_to_gain(curve: Curve) -> float:
    """The share of the fitted plateau that k=0 is still below it (0 where it has no gain)."""
    try:
        fitted = curves.fit(np.array(list(curve), float), np.array(list(curve.values()), float))
    except ValueError as e:
        raise Missing(f"runs at k=0 and two positive k values ({e})") from None
    at_k0, plateau = float(fitted.at_k0[0]), float(fitted.plateau[0])
    return max(0.0, (plateau - at_k0) / plateau) if plateau > 0 else 0.0


def _plateaus_early_at_35b(data: Data) -> tuple[bool, str]:
    big = {task: _left_to_gain(data.curve("rel", AYA_35B, task)) for task in TASKS}
    small_mr = _left_to_gain(data.curve("rel", AYA_7B, "MR"))
    holds = all(v <= PLATEAU_NEAR for v in big.values()) and small_mr > PLATEAU_NEAR
    parts = ", ".join(f"{task} {v:.1%}" for task, v in big.items())
    return holds, f"left to gain from k=0 to the fitted plateau, relative to English: 35B {parts}; 7B MR {small_mr:.1%}"


MULTI_MR_LOSS = 0.05


def _multi_task_costs_mr_at_7b(data: Data) -> tuple[bool, str]:
    loss = {}
    for model in (AYA_7B, AYA_35B):
        single, multi = data.curve("avg", model, "MR"), data.curve("avg", model, "MR", "multi")
        common = sorted(set(single) & set(multi))
        if not common:
            raise Missing(f"single- and multi-task MR runs of {model} at a common k")
        loss[model] = sum(single[k] - multi[k] for k in common) / len(common)
    holds = loss[AYA_7B] >= MULTI_MR_LOSS and loss[AYA_35B] < loss[AYA_7B]
    return holds, f"MR 8-language average, single minus multi, mean over common k: 7B {loss[AYA_7B]:+.3f}, 35B {loss[AYA_35B]:+.3f}"


GAP_TREND = 0.5


def _if_gap_widens_multi_7b(data: Data) -> tuple[bool, str]:
    gap = data.curve("gap", AYA_7B, "IF", "multi")
    rho = spearman(list(map(float, gap)), list(gap.values()))
    return rho >= GAP_TREND, f"Spearman of k and the IF seen-unseen gap, 7B multi-task: {rho:+.2f}"


def _non_latin_data_for_non_latin(data: Data) -> tuple[bool, str]:
    holds, parts = True, []
    for task in ("IF", "SM"):
        with_latin = mean_gain(data.curve("non_latin", AYA_7B, task, mixture="latin"))
        with_non_latin = mean_gain(data.curve("non_latin", AYA_7B, task, mixture="non_latin"))
        holds &= with_non_latin > with_latin
        parts.append(f"{task}: {with_non_latin:+.3f} with the non-Latin-only mixture, {with_latin:+.3f} with the Latin-only")
    return holds, "non-Latin-script languages' mean gain, 7B: " + "; ".join(parts)


def _mr_follows_latin(data: Data) -> tuple[bool, str]:
    with_latin = mean_gain(data.curve("avg", AYA_7B, "MR", mixture="latin"))
    with_non_latin = mean_gain(data.curve("avg", AYA_7B, "MR", mixture="non_latin"))
    return with_latin >= with_non_latin, (f"MR 8-language average's mean gain, 7B: {with_latin:+.3f} with the Latin-only mixture,"
                                          f" {with_non_latin:+.3f} with the non-Latin-only")


def _llama_gains_more(data: Data) -> tuple[bool, str]:
    holds, parts = True, []
    for task in TASKS:
        llama, aya = gain(data.curve("rel", LLAMA_8B, task)), gain(data.curve("rel", AYA_7B, task))
        holds &= llama > aya
        parts.append(f"{task} {llama:+.3f} vs {aya:+.3f}")
    return holds, "gain in relative to English, Llama 8B vs Aya 7B: " + ", ".join(parts)


CLAIMS: tuple[Claim, ...] = (
    Claim("mr_gains_most", 1, f"Non-English data helps MR most: at 7B and at Llama 8B, MR's gain in relative-to-English score"
          f" (best over k minus k=0) is at least {MR_GAIN_FACTOR:g} times IF's and SM's (single-task, all seen languages).", _mr_gains_most),
    Claim("unseen_track_seen", 1, "Unseen languages move with seen ones: over k, the unseen mean's rank correlation with the seen"
          " mean is positive for every model and task (single-task, all seen languages).", _unseen_track_seen),
    Claim("english_only_gets_far_at_35b", 2, f"At 35B English-only training already gets most of the way: relative to English"
          f" at k=0 is at least {REL_AT_ZERO_35B:g} and at least 7B's, in every task.", _english_only_gets_far_at_35b),
    Claim("mr_needs_more_data", 2, f"At 7B, MR needs several times more data: the k at which the saturating fit of its"
          f" relative-to-English curve makes {NEEDED_SHARE:.0%} of its gain (`clt-kit advise`) is at least {MR_DATA_FACTOR:g}"
          " times IF's and SM's.", _mr_needs_more_data),
    Claim("plateaus_early_at_35b", 2, f"At 35B the curves plateau early: in every task, English-only training (k=0) is within"
          f" {PLATEAU_NEAR:.0%} of the fitted plateau of relative to English, where 7B's MR is not.", _plateaus_early_at_35b),
    Claim("multi_task_costs_mr_at_7b", 3, f"Multi-task training costs MR at 7B: its 8-language average is at least"
          f" {MULTI_MR_LOSS:g} below single-task's (mean over the k both grids have), and less so at 35B.", _multi_task_costs_mr_at_7b),
    Claim("if_gap_widens_multi_7b", 3, f"In multi-task training at 7B the IF seen-unseen gap widens with k: their rank"
          f" correlation is at least {GAP_TREND:g}.", _if_gap_widens_multi_7b),
    Claim("non_latin_data_for_non_latin", 4, "IF and SM need non-Latin-script data to improve the non-Latin-script languages:"
          " at 7B their mean gain over k=0 is larger with the non-Latin-only mixture than with the Latin-only one.", _non_latin_data_for_non_latin),
    Claim("mr_follows_latin", 4, "MR follows the Latin-script languages: at 7B its 8-language average gains at least as much"
          " with the Latin-only mixture as with the non-Latin-only one (mean gain over k=0).", _mr_follows_latin),
    Claim("llama_gains_more", 5, "Llama 3.1 8B gains more than Aya 23 7B from non-English data: its gain in relative-to-English"
          " score is larger in every task (single-task, all seen languages).", _llama_gains_more),
)


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    paper: Verdict
    ours: Verdict


def check_claims(db: Path, scale: str, seed: int) -> list[ClaimResult]:
    """Every claim on the paper's numbers and on the kit's runs of (scale, seed) in `db`."""
    with connect(db, read_only=True) as con:
        paper, ours = paper_data(con), kit_data(con, scale, seed)
    return [ClaimResult(claim, claim.check(paper), claim.check(ours)) for claim in CLAIMS]


def claims_markdown(results: list[ClaimResult], scale: str, seed: int) -> str:
    lines = [f"| claim | finding | what must hold | paper | clt-kit ({scale}, seed {seed}) |", "|---|---|---|---|---|"]
    for r in results:
        cell = lambda v: f"**{v.status}**: {v.numbers}"  # noqa: E731
        lines.append(f"| `{r.claim.name}` | {r.claim.finding} | {r.claim.statement} | {cell(r.paper)} | {cell(r.ours)} |")
    return "\n".join(lines) + "\n"
