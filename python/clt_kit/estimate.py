"""What a sweep would do, before it does it (`reproduce --dry-run`): its runs, their examples and
optimizer steps, and at the paper scale an estimate of the tokens and GPU-hours and the list of
what would be downloaded.

The estimate is arithmetic on stated assumptions, not a measurement: training costs 6 FLOPs per
parameter and token (forward and backward), on a GPU of PEAK_FLOPS at MFU utilization; a task's
example has TOKENS_PER_EXAMPLE tokens on average (XL-Sum articles are long, MGSM-style solutions
short). Evaluation, a small share of the cost, is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clt_kit.scales import Scale
from clt_kit.study import RunKey, RunSet, study

# Assumptions of the estimate (printed with it).
TOKENS_PER_EXAMPLE = {"IF": 700, "SM": 700, "MR": 300}  # prompt and response, the paper's datasets
PARAMETERS = {"7b": 8.0e9, "35b": 35.0e9, "8b": 8.0e9}
PEAK_FLOPS = 989e12  # an H100's dense bf16
MFU = 0.4


@dataclass(frozen=True)
class PlannedRun:
    key: RunKey
    base: str  # the hub id (paper scale) or the analogue's name
    examples: dict[str, int]  # per task trained on
    steps: int

    @property
    def tokens(self) -> int:
        """Tokens of one pass over the run's examples (by TOKENS_PER_EXAMPLE)."""
        return sum(n * TOKENS_PER_EXAMPLE[t] for t, n in self.examples.items())


def _examples(key: RunKey, scale: Scale) -> dict[str, int]:
    setting = study().settings[key.setting]
    seen = len(study().mixtures[key.mixture].seen) if key.k else 0
    english = round(scale.english_train * setting.english_share) if setting.joint else scale.english_train
    return {task: english + key.k * seen for task in study().tasks_of(key.setting, key.task)}


def plan_runs(targets: list[RunSet], scale: Scale, ks: tuple[int, ...] | None = None) -> list[PlannedRun]:
    """Every run `targets` need at `scale` (`ks`: another k grid for every setting), with its examples and steps."""
    recipe = scale.sft
    runs = []
    for key in study().plan(targets, scale.name, scale.model_names, ks):
        examples = _examples(key, scale)
        train = sum(examples.values()) * (1 - recipe.validation_share)
        steps = recipe.steps or max(1, math.ceil((recipe.epochs or 1.0) * train / recipe.batch))
        runs.append(PlannedRun(key, scale.bases.get(key.model, key.model), examples, steps))
    return runs


def gpu_hours(run: PlannedRun, scale: Scale) -> float:
    """Training GPU-hours of one run, by the module's assumptions (epochs over its examples)."""
    epochs = run.steps * scale.sft.batch / max(1, sum(run.examples.values()))
    return 6 * PARAMETERS.get(run.key.model, 8e9) * run.tokens * epochs / (PEAK_FLOPS * MFU) / 3600


def describe(runs: list[PlannedRun], scale: Scale) -> list[str]:
    """The plan as lines of text: one per run, then the totals (and, at the paper scale, the estimate)."""
    lines = [f"{'model':6} {'base':26} {'setting':7} {'mixture':10} {'task':5} {'k':>5} {'examples':>9} {'steps':>6}"]
    for r in runs:
        lines.append(f"{r.key.model:6} {r.base:26} {r.key.setting:7} {r.key.mixture:10} {r.key.task:5} {r.key.k:>5}"
                     f" {sum(r.examples.values()):>9} {r.steps:>6}")
    by_setting = {s: sum(r.key.setting == s for r in runs) for s in study().settings}
    lines.append(f"{len(runs)} runs ({', '.join(f'{s} {n}' for s, n in by_setting.items() if n)}), "
                 f"{sum(r.steps for r in runs)} optimizer steps of {scale.sft.batch} examples")
    if scale.bases:
        hours = sum(gpu_hours(r, scale) for r in runs)
        lines.append(f"estimate: {sum(r.tokens for r in runs) / 1e9:.2f}B training tokens, about {hours:,.0f} GPU-hours of training"
                     f" (6 x parameters x tokens at {MFU:.0%} of {PEAK_FLOPS / 1e12:.0f} TFLOP/s; tokens per example"
                     f" {', '.join(f'{t} {n}' for t, n in TOKENS_PER_EXAMPLE.items())}; evaluation not counted)")
        lines.append("downloads: " + ", ".join(sorted({r.base for r in runs})) + " (models, by transformers); the datasets"
                     " of your data config (`clt-kit data` names them before it reads)")
    return lines
