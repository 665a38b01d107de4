"""Figures drawn from SQL over the results database (never from numbers held in memory)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from clt_kit.languages import TASKS  # noqa: E402
from clt_kit.results.db import connect  # noqa: E402

FIGURE2_SQL = """
SELECT model, task, k, rel, non_english, english, run_id
FROM rel_to_english
WHERE scale = ? AND seed = ?
ORDER BY model, task, k
"""

SCALE_NOTE = {
    "smoke": "smoke scale: a handful of examples, tiny models trained a few steps; checks the pipeline, not the science",
    "mini": "mini scale: a miniature generated world and tiny models the kit pretrains, not the paper's models",
    "paper": "paper scale",
}


FIGURE3_SQL = """
SELECT model, task, k, seen, unseen, gap, run_id
FROM seen_unseen
WHERE scale = ? AND seed = ?
ORDER BY model, task, k
"""


@dataclass(frozen=True)
class FigureFiles:
    png: Path
    pdf: Path
    svg: Path
    csv: Path
    rows: list[tuple]


def _query(db: Path, sql: str, scale: str, seed: int) -> list[tuple]:
    with connect(db, read_only=True) as con:
        rows = con.execute(sql, [scale, seed]).fetchall()
    if not rows:
        raise ValueError(f"{db}: no finished runs for scale={scale} seed={seed}; run `clt-kit reproduce` first")
    return rows


def _models(rows: list[tuple]) -> list[str]:
    """Model names in size order (7b before 35b)."""
    return sorted({r[0] for r in rows}, key=lambda m: (float(m.rstrip("b")) if m.rstrip("b").isdigit() else 0.0, m))


def _save(fig: plt.Figure, out_dir: Path, name: str, header: list[str], rows: list[tuple]) -> FigureFiles:
    """Writes the plotted values (CSV) and the figure (PNG, PDF, SVG)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = FigureFiles(*(out_dir / f"{name}.{ext}" for ext in ("png", "pdf", "svg", "csv")), rows=rows)
    with files.csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    fig.tight_layout()
    for path in (files.png, files.pdf, files.svg):
        fig.savefig(path, dpi=120, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return files


def _nan(values: tuple) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def figure2(db: Path, out_dir: Path, scale: str, seed: int) -> FigureFiles:
    """Figure 2: relative-to-English score vs k, one line per task, one panel per model size."""
    rows = _query(db, FIGURE2_SQL, scale, seed)
    models = _models(rows)
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        for task in TASKS:
            pts = [(r[2], r[3]) for r in rows if r[0] == model and r[1] == task]
            if pts:
                ks, rel = zip(*pts)
                label = f"{task} (clt-kit)"
                if all(v is None for v in rel):
                    label += ": undefined, English score is 0"
                ax.plot(ks, _nan(rel), marker="o", label=label)
        ax.set_title(f"{model.upper()} analogue")
        ax.set_xlabel("k (examples per seen language)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("non-English mean / English")
    axes[0][-1].legend()
    fig.suptitle(f"Figure 2 reproduction: relative to English ({SCALE_NOTE.get(scale, scale)}, seed {seed})", fontsize=9)
    header = ["model", "task", "k", "rel_to_english", "non_english_mean", "english", "run_id"]
    return _save(fig, out_dir, "figure2", header, rows)


def figure3(db: Path, out_dir: Path, scale: str, seed: int) -> FigureFiles:
    """Figure 3: absolute seen and unseen means vs k, one panel per task, one colour per model size."""
    rows = _query(db, FIGURE3_SQL, scale, seed)
    models = _models(rows)
    fig, axes = plt.subplots(1, len(TASKS), figsize=(5 * len(TASKS), 4), squeeze=False)
    for ax, task in zip(axes[0], TASKS):
        for color, model in zip(("tab:blue", "tab:red", "tab:green"), models):
            pts = [(r[2], r[3], r[4]) for r in rows if r[0] == model and r[1] == task]
            if pts:
                ks, seen, unseen = zip(*pts)
                ax.plot(ks, _nan(seen), marker="o", color=color, label=f"{model.upper()} seen (clt-kit)")
                ax.plot(ks, _nan(unseen), marker="s", linestyle="--", color=color, label=f"{model.upper()} unseen (clt-kit)")
        ax.set_title(task)
        ax.set_xlabel("k (examples per seen language)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean score")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"Figure 3 reproduction: seen vs unseen languages ({SCALE_NOTE.get(scale, scale)}, seed {seed})", fontsize=9)
    return _save(fig, out_dir, "figure3", ["model", "task", "k", "seen", "unseen", "gap", "run_id"], rows)


FIGURES = {2: figure2, 3: figure3}
