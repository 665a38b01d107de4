"""Saturating curves of score against k: the form, its least-squares fit, and what it says.

A curve here is f(k) = a + (P - a) * g(k; h): `a` the value at k = 0 (English-only training), `P`
the plateau, and g a shape rising from g(0) = 0 towards 1 whose scale h is in units of k (the k at
which half the gain is made, for the hyperbolic shape). For a fixed h the model is linear in (a,
P), so a fit solves 2 x 2 least squares for every h of a log-spaced grid at once and keeps the
best: no iterative optimiser, no starting point, no convergence failure, and many bootstrap
replicates are fitted in one array operation.

The shapes are declared in FORMS; DEFAULT_FORM is the one the advice uses, chosen by held-out
error on the paper's own curves (benchmarks/bench_advise.py prints the comparison; docs/advise.md
has the numbers). h is searched between a twentieth of the smallest positive k and the largest k
run: a curve whose best h is the largest k has not shown its plateau in the runs' range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Shape = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (k [n], h [T]) -> g [T, n]


@dataclass(frozen=True)
class Form:
    name: str
    about: str
    shape: Shape
    # k at which the curve has made `share` (0 < share < 1) of its gain, for scale h.
    k_for_share: Callable[[float, np.ndarray], np.ndarray]


def _hyperbolic(k: np.ndarray, h: np.ndarray) -> np.ndarray:
    return k[None, :] / (k[None, :] + h[:, None])


def _exponential(k: np.ndarray, h: np.ndarray) -> np.ndarray:
    return -np.expm1(-k[None, :] / h[:, None])


FORMS: dict[str, Form] = {
    "hyperbolic": Form("hyperbolic", "a + (P - a) * k / (k + h): half the gain at k = h, 90% at 9h",
                       _hyperbolic, lambda share, h: h * share / (1 - share)),
    "exponential": Form("exponential", "P - (P - a) * exp(-k / h): 90% of the gain at 2.3h",
                        _exponential, lambda share, h: h * math.log(1 / (1 - share))),
}
DEFAULT_FORM = "hyperbolic"
GRID_POINTS = 240  # h values tried, log-spaced
H_FLOOR = 1 / 20  # the smallest h tried, as a share of the smallest positive k


@dataclass(frozen=True)
class Fits:
    """B fits of one curve (B = 1 for a point fit): arrays of shape [B]."""

    form: Form
    at_k0: np.ndarray
    plateau: np.ndarray
    h: np.ndarray
    h_max: float  # the top of the grid: h there means no plateau within the runs' range

    def predict(self, k: np.ndarray) -> np.ndarray:
        """Values at each k: shape [B, len(k)]."""
        g = np.stack([self.form.shape(np.asarray(k, float), np.array([h]))[0] for h in self.h])
        return self.at_k0[:, None] + (self.plateau - self.at_k0)[:, None] * g

    def k_for_gain_share(self, share: float) -> np.ndarray:
        """The k at which each fit has made `share` of its gain from k=0 to the plateau; 0 where it
        has no gain (the plateau is not above the value at k=0: more data does not raise it)."""
        k = self.form.k_for_share(share, self.h)
        return np.where(self.plateau > self.at_k0, k, 0.0)

    def k_for_value(self, target: np.ndarray | float) -> np.ndarray:
        """The smallest k at which each fit reaches `target`: 0 where k=0 does, inf where its plateau
        stays under it."""
        target = np.broadcast_to(np.asarray(target, float), self.h.shape)
        out = np.full(self.h.shape, np.inf)
        out[self.at_k0 >= target] = 0.0
        rising = (self.at_k0 < target) & (self.plateau > target)
        share = (target[rising] - self.at_k0[rising]) / (self.plateau[rising] - self.at_k0[rising])
        out[rising] = [float(self.form.k_for_share(float(s), np.array([h]))[0]) for s, h in zip(share, self.h[rising])]
        return out


def h_grid(ks: np.ndarray) -> np.ndarray:
    positive = ks[ks > 0]
    low, high = float(positive.min()) * H_FLOOR, float(positive.max())
    return np.exp(np.linspace(math.log(low), math.log(high), GRID_POINTS))


def fit(ks: np.ndarray, values: np.ndarray, form: str = DEFAULT_FORM) -> Fits:
    """Least-squares fits of `values` ([B, n], or [n] for one curve) at `ks` ([n]; repeated k values
    are several measurements of one point). Needs k = 0 and at least two positive k values."""
    ks = np.asarray(ks, float)
    ys = np.atleast_2d(np.asarray(values, float))
    if ys.shape[1] != ks.size:
        raise ValueError(f"{ys.shape[1]} values for {ks.size} k values")
    if not np.isfinite(ys).all():
        raise ValueError("a curve's values must all be defined (finite)")
    if not (ks == 0).any() or np.unique(ks[ks > 0]).size < 2:
        raise ValueError("a curve needs runs at k = 0 and at two positive k values at least")
    chosen = FORMS[form]
    grid = h_grid(ks)
    g = chosen.shape(ks, grid)  # [T, n]
    x0, x1 = 1 - g, g
    s00, s01, s11 = (x0 * x0).sum(1), (x0 * x1).sum(1), (x1 * x1).sum(1)  # [T]
    b0, b1 = ys @ x0.T, ys @ x1.T  # [B, T]
    det = s00 * s11 - s01 * s01
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (s11 * b0 - s01 * b1) / det
        p = (s00 * b1 - s01 * b0) / det
    # Residual sum of squares for every (replicate, h): sum y^2 - 2 (a b0 + p b1) + a^2 s00 + 2 a p s01 + p^2 s11.
    sse = (ys * ys).sum(1)[:, None] - 2 * (a * b0 + p * b1) + a * a * s00 + 2 * a * p * s01 + p * p * s11
    sse = np.where(np.isfinite(sse), sse, np.inf)
    best = np.argmin(sse, axis=1)
    rows = np.arange(ys.shape[0])
    return Fits(chosen, a[rows, best], p[rows, best], grid[best], float(grid[-1]))


def held_out_error(ks: np.ndarray, values: np.ndarray, form: str = DEFAULT_FORM) -> float:
    """Mean absolute error of predicting each positive-k point from a fit to the others (points
    whose removal leaves too few k values are skipped); nan when none can be predicted."""
    ks, values = np.asarray(ks, float), np.asarray(values, float)
    errors = []
    for i in np.flatnonzero(ks > 0):
        keep = np.arange(ks.size) != i
        try:
            fitted = fit(ks[keep], values[keep], form)
        except ValueError:
            continue
        errors.append(abs(float(fitted.predict(ks[i:i + 1])[0, 0]) - values[i]))
    return float(np.mean(errors)) if errors else float("nan")
