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


@dataclass(frozen=True)
class FigureFiles:
    png: Path
    pdf: Path
    svg: Path
    csv: Path
    rows: list[tuple]


def figure2(db: Path, out_dir: Path, scale: str, seed: int) -> FigureFiles:
    """Figure 2: relative-to-English score vs k, one line per task, one panel per model size."""
    with connect(db, read_only=True) as con:
        rows = con.execute(FIGURE2_SQL, [scale, seed]).fetchall()
    if not rows:
        raise ValueError(f"{db}: no finished runs for scale={scale} seed={seed}; run `clt-kit reproduce` first")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = FigureFiles(out_dir / "figure2.png", out_dir / "figure2.pdf", out_dir / "figure2.svg", out_dir / "figure2.csv", rows)
    with files.csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "task", "k", "rel_to_english", "non_english_mean", "english", "run_id"])
        writer.writerows(rows)

    models = sorted({r[0] for r in rows}, key=lambda m: float(m.rstrip("b")) if m.rstrip("b").isdigit() else m)
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        for task in TASKS:
            pts = [(r[2], r[3]) for r in rows if r[0] == model and r[1] == task]
            if pts:
                ks, rel = zip(*pts)
                label = f"{task} (clt-kit)"
                if all(v is None for v in rel):
                    label += ": undefined, English score is 0"
                ax.plot(ks, [float("nan") if v is None else v for v in rel], marker="o", label=label)
        ax.set_title(f"{model.upper()} analogue")
        ax.set_xlabel("k (examples per seen language)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("non-English mean / English")
    axes[0][-1].legend()
    fig.suptitle(f"Figure 2 reproduction: relative to English ({SCALE_NOTE.get(scale, scale)}, seed {seed})", fontsize=9)
    fig.tight_layout()
    for path in (files.png, files.pdf, files.svg):
        fig.savefig(path, dpi=120, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return files
