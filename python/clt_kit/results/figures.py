"""Figures drawn from SQL over the results database (never from numbers held in memory)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from clt_kit.study import TASKS, FigureSpec, is_point_of, study  # noqa: E402
from clt_kit.results.db import connect  # noqa: E402
from clt_kit.scales import PAPER_MODELS, SCALES  # noqa: E402

# Each plot's rows, ours and the paper's: model, a series (the task, or for script_groups the
# mixture), k, the plotted values, then the run id (ours) or the table they come from (the
# paper's). Ours are those of one scale, seed and setting, and of the figure's mixtures: a run's
# own, and the k=0 run (English only), which is every mixture's k=0 point.
RUNS_SQL = {
    "rel_to_english": """
SELECT model, task, k, rel, non_english, english, run_id, mixture
FROM rel_to_english
WHERE scale = ? AND seed = ? AND setting = ? AND list_contains(?, task)
ORDER BY model, task, mixture, k
""",
    "seen_unseen": """
SELECT model, task, k, seen, unseen, gap, run_id, mixture
FROM seen_unseen
WHERE scale = ? AND seed = ? AND setting = ? AND list_contains(?, task)
ORDER BY model, task, mixture, k
""",
    "script_groups": """
SELECT model, mixture, k, latin, non_latin, run_id, mixture
FROM script_groups
WHERE scale = ? AND seed = ? AND setting = ? AND list_contains(?, task)
ORDER BY model, mixture, k
""",
    "gap": """
SELECT model, task, k, gap, seen, unseen, run_id, mixture
FROM seen_unseen
WHERE scale = ? AND seed = ? AND setting = ? AND list_contains(?, task)
ORDER BY model, task, mixture, k
""",
}

# The paper's curves for the same figure (its setting, mixtures and tasks), of one paper model.
PAPER_SQL = {
    "rel_to_english": """
SELECT model, task, k, rel, non_english, english, 'Table ' || table_no
FROM paper_rel_to_english
WHERE setting = ? AND list_contains(?, mixture) AND list_contains(?, task) AND model = ?
ORDER BY task, k
""",
    "seen_unseen": """
SELECT model, task, k, seen, unseen, gap, 'Table ' || table_no
FROM paper_seen_unseen
WHERE setting = ? AND list_contains(?, mixture) AND list_contains(?, task) AND model = ?
ORDER BY task, k
""",
    "script_groups": """
SELECT model, mixture, k, latin, non_latin, 'Table ' || table_no
FROM paper_script_groups
WHERE setting = ? AND list_contains(?, mixture) AND list_contains(?, task) AND model = ?
ORDER BY mixture, k
""",
    "gap": """
SELECT model, task, k, gap, seen, unseen, 'Table ' || table_no
FROM paper_seen_unseen
WHERE setting = ? AND list_contains(?, mixture) AND list_contains(?, task) AND model = ?
ORDER BY task, k
""",
}

SCALE_NOTE = {
    "smoke": "smoke scale: a handful of examples, tiny models trained a few steps; checks the pipeline, not the science",
    "mini": "mini scale: a miniature generated world and tiny models the kit pretrains, not the paper's models",
    "paper": "paper scale",
}
OURS, PAPER = "clt-kit", "paper"
TASK_COLORS = {code: task.color for code, task in study().tasks.items()}
MODEL_COLORS = ("tab:blue", "tab:red", "tab:green")
METRIC_NAMES = {code: task.metric for code, task in study().tasks.items()}
PAPER_NAMES = {"aya23-7b": "Aya 23 7B", "aya23-35b": "Aya 23 35B", "llama3.1-8b": "Llama 3.1 8B"}


@dataclass(frozen=True)
class FigureFiles:
    number: int
    png: Path
    pdf: Path
    svg: Path
    csv: Path
    rows: list[tuple]  # ours, as plotted: model, task, k, then the plotted values
    paper_rows: list[tuple]  # the paper's, as plotted (last column: the table they come from)
    value_names: tuple[str, ...]  # the plotted values (columns 3...)
    series: str = "task"  # what column 1 holds: the task, or (script_groups) the mixture

    def table(self) -> tuple[list[str], list[list[object]]]:
        """A short table: each of our points beside the paper's value at the same k (None where
        the paper has no run at that k)."""
        n = len(self.value_names)
        paper = {(PAPER_MODELS.get(r[0], r[0]), r[1], r[2]): r[3:3 + n] for r in self.paper_rows}
        header = ["model", self.series, "k", *self.value_names, *(f"paper {v}" for v in self.value_names)]
        body = [[*r[:3 + n], *paper.get((PAPER_MODELS.get(r[0], r[0]), r[1], r[2]), (None,) * n)] for r in self.rows]
        return header, body


def _of_mixtures(rows: list[tuple], fig: FigureSpec) -> list[tuple]:
    """The rows (last column: the run's mixture) that are points of the figure's mixtures, without
    that column; a k=0 run is a point of each (as the series of script_groups, it is repeated
    under every mixture's name)."""
    out = []
    for *row, run_mixture in rows:
        mixtures = [m for m in fig.mixtures if is_point_of(m, run_mixture, row[2])]
        if fig.draw == "script_groups":
            out += [(row[0], m, *row[2:]) for m in mixtures]
        elif mixtures:
            out.append(tuple(row))
    return sorted(out, key=lambda r: (r[0], r[1], r[2]))


def _query(db: Path, scale: str, seed: int, fig: FigureSpec) -> tuple[list[tuple], list[tuple]]:
    """Our rows of the figure's models for (scale, seed), and the paper's rows for the paper models they stand for."""
    with connect(db, read_only=True) as con:
        found = con.execute(RUNS_SQL[fig.draw], [scale, seed, fig.setting, list(fig.tasks)]).fetchall()
        rows = [row for row in _of_mixtures(found, fig) if row[0] in fig.models]
        if not rows:
            raise ValueError(f"{db}: no finished runs of models {', '.join(fig.models)} for figure {fig.number} at scale={scale}"
                             f" seed={seed}; run `clt-kit reproduce --figure {fig.number}` first")
        paper = [row for model in _models(rows) if model in PAPER_MODELS
                 for row in con.execute(PAPER_SQL[fig.draw], [fig.setting, list(fig.mixtures), list(fig.tasks), PAPER_MODELS[model]]).fetchall()]
    return rows, paper


def _models(rows: list[tuple]) -> list[str]:
    """Model names in size order (7b before 35b)."""
    return sorted({r[0] for r in rows}, key=lambda m: (float(m.rstrip("b")) if m.rstrip("b").isdigit() else 0.0, m))


def _save(fig: plt.Figure, out_dir: Path, number: int, header: list[str], n_values: int, files_rows: tuple[list[tuple], list[tuple]]) -> FigureFiles:
    """Writes the plotted values, ours then the paper's (CSV), and the figure (PNG, PDF, SVG).
    `header` names the columns of a row; the first `n_values` after model, task, k are plotted."""
    rows, paper = files_rows
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / f"figure{number}.{ext}" for ext in ("png", "pdf", "svg", "csv"))
    files = FigureFiles(number, *paths, rows=rows, paper_rows=paper, value_names=tuple(header[3:3 + n_values]), series=header[1])
    with files.csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["source", *header])
        writer.writerows([OURS, *r] for r in rows)
        writer.writerows([PAPER, *r] for r in paper)
    fig.tight_layout()
    for path in (files.png, files.pdf, files.svg):
        fig.savefig(path, dpi=120, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return files


def _nan(values: tuple) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def _k_axis(ax: plt.Axes) -> None:
    """k from 0 to the paper's 5000 on one axis: linear up to 100, logarithmic above."""
    ax.set_xscale("symlog", linthresh=100, linscale=0.6)
    ax.set_xlim(left=-8)  # k=0 whole, without the autoscaled margin reaching to "-10^2"
    ax.set_xlabel("k (examples per seen language; linear to 100, log above)")
    ax.grid(alpha=0.3)


def _tables(paper: list[tuple]) -> str:
    """'Tables 3, 4, 10' (or 'Table 9') for the paper rows plotted (their last column names the table)."""
    numbers = sorted({int(r[-1].split()[-1]) for r in paper})
    if not numbers:
        return "no matching table"
    return ("Table " if len(numbers) == 1 else "Tables ") + ", ".join(map(str, numbers))


def _ours(model: str, scale: str) -> str:
    """Our line's name for `model`: the kit's tiny analogue of it, or at a scale of real models
    (no world: the paper scale) the user's own base model in its place."""
    known = SCALES.get(scale)
    return f"clt-kit {model.upper()}" + (" (your base model)" if known is not None and known.world is None else " analogue")


def _paper_label(model: str) -> str:
    """The paper's name of the model our analogue `model` stands for."""
    return PAPER_NAMES.get(PAPER_MODELS.get(model, ""), model)


def _columns(rows: list[tuple], model: str, task: str, *cols: int) -> list[tuple]:
    """Columns `cols` of the rows of one (model, task), as tuples (empty when there are none)."""
    pts = [tuple(r[c] for c in cols) for r in rows if r[0] == model and r[1] == task]
    return list(zip(*pts)) if pts else []


def rel_to_english(db: Path, out_dir: Path, scale: str, seed: int, figure: FigureSpec) -> FigureFiles:
    """Figure 2 (and 10): relative-to-English score vs k, one line per task, one panel per model;
    the paper's curves (from its tables) dashed beside ours."""
    rows, paper = _query(db, scale, seed, figure)
    models = _models(rows)
    fig, axes = plt.subplots(1, len(models), figsize=(max(6 * len(models), 10), 4.5), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        paper_model = PAPER_MODELS.get(model)
        for task in TASKS:
            if ours := _columns(rows, model, task, 2, 3):
                label = f"{task}: {_ours(model, scale)}"
                if all(v is None for v in ours[1]):
                    label += " (undefined, English score is 0)"
                ax.plot(ours[0], _nan(ours[1]), marker="o", color=TASK_COLORS[task], label=label)
            if theirs := _columns(paper, paper_model, task, 2, 3):
                ax.plot(theirs[0], _nan(theirs[1]), marker="x", linestyle="--", alpha=0.6, color=TASK_COLORS[task],
                        label=f"{task}: paper, {_paper_label(model)}")
        ax.set_title(f"{_ours(model, scale)} vs paper's {_paper_label(model)}")
        _k_axis(ax)
    axes[0][0].set_ylabel("mean of 7 non-English languages / English")
    for ax in axes[0]:
        ax.legend(fontsize=7)
    fig.suptitle(f"Figure {figure.number}, relative to English. Solid: clt-kit ({SCALE_NOTE.get(scale, scale)}, seed {seed}).\n"
                 f"Dashed: the paper's numbers (arXiv 2504.16677, {_tables(paper)}), not recomputed.", fontsize=9)
    header = ["model", "task", "k", "rel_to_english", "non_english_mean", "english", "run_id"]
    return _save(fig, out_dir, figure.number, header, 1, (rows, paper))


def seen_unseen(db: Path, out_dir: Path, scale: str, seed: int, figure: FigureSpec) -> FigureFiles:
    """Figure 3 (and 11): absolute seen and unseen means vs k, one panel per task, one colour per
    model; the paper's curves (from its tables) thin beside ours."""
    rows, paper = _query(db, scale, seed, figure)
    models = _models(rows)
    fig, axes = plt.subplots(1, len(TASKS), figsize=(6 * len(TASKS), 4.5), squeeze=False)
    for ax, task in zip(axes[0], TASKS):
        for color, model in zip(MODEL_COLORS, models):
            if ours := _columns(rows, model, task, 2, 3, 4):
                ax.plot(ours[0], _nan(ours[1]), marker="o", color=color, label=f"clt-kit {model.upper()}: seen")
                ax.plot(ours[0], _nan(ours[2]), marker="s", linestyle="--", color=color, label=f"clt-kit {model.upper()}: unseen")
            if theirs := _columns(paper, PAPER_MODELS.get(model), task, 2, 3, 4):
                ax.plot(theirs[0], _nan(theirs[1]), marker="x", linewidth=0.8, alpha=0.5, color=color, label=f"paper {_paper_label(model)}: seen")
                ax.plot(theirs[0], _nan(theirs[2]), marker="+", linestyle=":", linewidth=0.8, alpha=0.5, color=color, label=f"paper {_paper_label(model)}: unseen")
        ax.set_title(f"{task} ({METRIC_NAMES[task]})")
        _k_axis(ax)
    axes[0][0].set_ylabel("mean score")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(f"Figure {figure.number}, seen (es, fr, ja, zh) vs unseen (ar, ko, pt). Thick: clt-kit ({SCALE_NOTE.get(scale, scale)}, seed {seed}).\n"
                 f"Thin: the paper's numbers (arXiv 2504.16677, {_tables(paper)}), not recomputed; paper IF is an LLM judge's 1-5 rating, ours the checkers' 1-5 rating.", fontsize=9)
    return _save(fig, out_dir, figure.number, ["model", "task", "k", "seen", "unseen", "gap", "run_id"], 2, (rows, paper))


MIXTURE_STYLES = {"all": "-", "latin": "-", "non_latin": "--"}
GROUP_COLORS = {"latin": "tab:purple", "non_latin": "tab:olive"}
GROUP_NAMES = {"latin": "Latin-script languages (en, es, fr, pt)", "non_latin": "non-Latin-script languages (ja, zh, ar, ko)"}


def script_groups(db: Path, out_dir: Path, scale: str, seed: int, figure: FigureSpec) -> FigureFiles:
    """Figures 6-8: one task, one model; for each mixture (Latin-only, non-Latin-only seen
    languages) the mean score on the Latin- and on the non-Latin-script languages vs k; one panel
    ours, one the paper's."""
    rows, paper = _query(db, scale, seed, figure)
    model = _models(rows)[0]
    task = figure.tasks[0]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), squeeze=False, sharey=True)
    for ax, source, points, label in ((axes[0][0], OURS, rows, _ours(model, scale)),
                                      (axes[0][1], PAPER, paper, f"paper, {_paper_label(model)}")):
        for mixture in figure.mixtures:
            for col, group in ((3, "latin"), (4, "non_latin")):
                if pts := [(r[2], r[col]) for r in points if r[1] == mixture]:
                    ks, values = zip(*pts)
                    ax.plot(ks, _nan(values), marker="o" if mixture == "latin" else "s", linestyle=MIXTURE_STYLES.get(mixture, ":"),
                            color=GROUP_COLORS[group], label=f"{mixture} mixture: {GROUP_NAMES[group]}")
        ax.set_title(f"{task} ({METRIC_NAMES[task]}): {label}")
        _k_axis(ax)
        if ks := sorted({r[2] for r in points}):
            ax.set_xticks(ks, [str(k) for k in ks], fontsize=7)
            ax.minorticks_off()
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("mean score")
    fig.suptitle(f"Figure {figure.number}, {task}: Latin-only (en + es, fr) vs non-Latin-only (en + ja, zh) fine-tuning mixtures.\n"
                 f"Left: clt-kit ({SCALE_NOTE.get(scale, scale)}, seed {seed}).\n"
                 f"Right: the paper's numbers (arXiv 2504.16677, {_tables(paper)}), not recomputed.", fontsize=9)
    header = ["model", "mixture", "k", "latin", "non_latin", "run_id"]
    return _save(fig, out_dir, figure.number, header, 2, (rows, paper))


def gap(db: Path, out_dir: Path, scale: str, seed: int, figure: FigureSpec) -> FigureFiles:
    """Figure 12: the seen mean minus the unseen mean vs k, one panel per task of the figure, one
    colour per model; the paper's curve (from its tables) thin beside ours."""
    rows, paper = _query(db, scale, seed, figure)
    models = _models(rows)
    fig, axes = plt.subplots(1, len(figure.tasks), figsize=(max(6 * len(figure.tasks), 10), 4.5), squeeze=False)
    for ax, task in zip(axes[0], figure.tasks):
        for color, model in zip(MODEL_COLORS, models):
            if ours := _columns(rows, model, task, 2, 3):
                ax.plot(ours[0], _nan(ours[1]), marker="o", color=color, label=_ours(model, scale))
            if theirs := _columns(paper, PAPER_MODELS.get(model), task, 2, 3):
                ax.plot(theirs[0], _nan(theirs[1]), marker="x", linestyle="--", alpha=0.6, color=color, label=f"paper, {_paper_label(model)}")
        ax.axhline(0, color="grey", linewidth=0.6)
        ax.set_title(f"{task} ({METRIC_NAMES[task]}), {figure.setting}-task")
        _k_axis(ax)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("seen mean - unseen mean")
    fig.suptitle(f"Figure {figure.number}, the seen-unseen gap (the mean of es, fr, ja, zh minus that of ar, ko, pt).\n"
                 f"Solid: clt-kit ({SCALE_NOTE.get(scale, scale)}, seed {seed}).\n"
                 f"Dashed: the paper's numbers (arXiv 2504.16677, {_tables(paper)}), not recomputed.", fontsize=9)
    return _save(fig, out_dir, figure.number, ["model", "task", "k", "gap", "seen", "unseen", "run_id"], 1, (rows, paper))


# The plots a figure of study.toml can name as its `draw`.
DRAWERS: dict[str, Callable[[Path, Path, str, int, FigureSpec], FigureFiles]] = {
    "rel_to_english": rel_to_english,
    "seen_unseen": seen_unseen,
    "script_groups": script_groups,
    "gap": gap,
}


def draw_figure(figure: FigureSpec, db: Path, out_dir: Path, scale: str, seed: int) -> FigureFiles:
    """Draws `figure` (study.toml) from the runs in `db` of (scale, seed)."""
    return DRAWERS[figure.draw](db, out_dir, scale, seed, figure)
