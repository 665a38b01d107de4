"""The advice as a figure: for one group, a panel per task; each curve's runs as points, its fitted
curve with the bootstrap's band, and k_needed marked with its interval (`clt-kit advise --plot`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clt_kit.results.advise import Advice, Curve, finite
from clt_kit.results import curves
from clt_kit.study import TASKS


def draw_advice(curve_list: list[Curve], advice: list[Advice], group: str, out: Path, title: str, level: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [(c, a) for c, a in zip(curve_list, advice) if c.key[4] == group]
    if not chosen:
        raise ValueError(f"no curve of group {group} to draw")
    present = {c.key[1] for c, _ in chosen}
    tasks = [t for t in TASKS if t in present] + sorted(present - set(TASKS))
    rows = sorted({(c.key[2], c.key[3]) for c, _ in chosen}, key=lambda r: (r[0] != "single", r[1] != "all", r))
    fig, axes = plt.subplots(len(rows), len(tasks), figsize=(4.8 * len(tasks), 3.4 * len(rows)), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    models = sorted({c.key[0] for c, _ in chosen})
    positive = [k for c, _ in chosen for k in c.ks if k > 0]
    for (setting, mixture), row in zip(rows, axes):
        for ax, task in zip(row, tasks):
            for curve, adv in chosen:
                if curve.key[1:4] == (task, setting, mixture):
                    _draw_one(ax, curve, adv, colors[models.index(curve.key[0]) % len(colors)], level)
            ax.set_xscale("symlog", linthresh=min(positive) if positive else 1)
            ax.set_title(f"{task} ({setting}-task, mixture {mixture})", fontsize=9)
            ax.set_xlabel("k (examples per seen language)")
            ax.set_ylabel("relative to English" if group == "non_english" else f"{group} score")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def _draw_one(ax, curve: Curve, adv: Advice, color: str, level: float) -> None:
    ax.plot(curve.ks, curve.values, "o", color=color, label=curve.key[0])
    if adv.at_k0 is None:
        return
    top = max(curve.k_max, adv.k_high or 0, adv.k_needed or 0)
    top = min(top, 4 * curve.k_max)
    grid = np.concatenate([[0.0], np.geomspace(max(1.0, curve.ks[curve.ks > 0].min() / 4), top, 120)])
    point = curves.fit(curve.ks, curve.values)
    band = curves.fit(curve.ks, finite(curve).replicates).predict(grid)
    low, high = np.quantile(band, [(1 - level) / 2, (1 + level) / 2], axis=0)
    ax.plot(grid, point.predict(grid)[0], "-", color=color, linewidth=1)
    ax.fill_between(grid, low, high, color=color, alpha=0.15, linewidth=0)
    if adv.k_needed is not None:
        y = float(point.predict(np.array([adv.k_needed]))[0, 0])
        left = adv.k_low if adv.k_low is not None else adv.k_needed
        right = min(adv.k_high, top) if adv.k_high is not None else top
        ax.errorbar([adv.k_needed], [y], xerr=[[adv.k_needed - left], [max(0, right - adv.k_needed)]], fmt="D",
                    color=color, markersize=6, capsize=3, markeredgecolor="black")
