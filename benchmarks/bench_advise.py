"""Back-test of `clt-kit advise`'s curves on the paper's own numbers (its Tables 3-23).

    .venv/bin/python benchmarks/bench_advise.py        # also part of `make bench`; a second or two

1. Back-test: every single-task curve of the paper (each table, each group: the non-English mean
   relative to English, the seen and unseen means, each language) is fitted on its points at
   k <= 400 (k = 0, 100, 200, 400) and predicts its values at k = 1000, 2000 and 5000. Printed: the
   mean absolute error of each form's prediction, beside a flat baseline that predicts the last
   value seen (k = 400), and their ratio (below 1: the fit predicts better than assuming the curve
   has stopped).
2. Held-out error: every curve of the paper (single- and multi-task), each positive-k point
   predicted from a fit to the others, per form and for the same flat baseline (the nearest k's
   value): the comparison that chose the default form (results/curves.py).

Errors are in each curve's own units divided by the curve's mean absolute value, so IF's 1-5
ratings and SM's ROUGE-L weigh alike.
"""

from __future__ import annotations

import duckdb
import numpy as np

from clt_kit.results import advise, curves, db

SEEN_UP_TO, PREDICTED = 400, (1000, 2000, 5000)


def _paper_curves() -> list[advise.Curve]:
    con = duckdb.connect()
    try:
        db.migrate(con)
        return advise.paper_curves(con, bootstrap=20, boot_seed=0)
    finally:
        con.close()


def back_test(curve_list: list[advise.Curve]) -> dict[str, list[float]]:
    errors: dict[str, list[float]] = {name: [] for name in (*curves.FORMS, "flat")}
    for c in curve_list:
        if c.key[2] != "single":
            continue
        seen, later = c.ks <= SEEN_UP_TO, np.isin(c.ks, PREDICTED)
        scale = float(np.abs(c.values).mean())
        for name in curves.FORMS:
            predicted = curves.fit(c.ks[seen], c.values[seen], name).predict(c.ks[later])[0]
            errors[name] += list(np.abs(predicted - c.values[later]) / scale)
        last = c.values[seen][np.argmax(c.ks[seen])]
        errors["flat"] += list(np.abs(last - c.values[later]) / scale)
    return errors


def held_out(curve_list: list[advise.Curve]) -> dict[str, float]:
    out = {name: float(np.nanmean([curves.held_out_error(c.ks, c.values, name) / np.abs(c.values).mean() for c in curve_list]))
           for name in curves.FORMS}
    flat = []
    for c in curve_list:
        for i in np.flatnonzero(c.ks > 0):
            others = np.flatnonzero(np.arange(c.ks.size) != i)
            nearest = others[np.argmin(np.abs(c.ks[others] - c.ks[i]))]
            flat.append(abs(c.values[nearest] - c.values[i]) / np.abs(c.values).mean())
    out["flat"] = float(np.mean(flat))
    return out


def main() -> None:
    curve_list = _paper_curves()
    errors = back_test(curve_list)
    n = len(errors["flat"])
    print(f"back-test on the paper's single-task curves: fitted on k <= {SEEN_UP_TO}, predicting k = {', '.join(map(str, PREDICTED))}"
          f" ({n} predictions, error relative to each curve's mean)")
    flat = float(np.mean(errors["flat"]))
    print(f"  flat baseline (the k={SEEN_UP_TO} value): mean abs error {flat:.4f}")
    for name in curves.FORMS:
        mae = float(np.mean(errors[name]))
        mark = " (default)" if name == curves.DEFAULT_FORM else ""
        print(f"  {name}{mark}: mean abs error {mae:.4f}, ratio to flat {mae / flat:.3f}")
    loo = held_out(curve_list)
    print(f"held-out error on all {len(curve_list)} paper curves (each positive-k point from a fit to the others):")
    for name, value in loo.items():
        mark = " (default)" if name == curves.DEFAULT_FORM else ""
        print(f"  {name}{mark}: {value:.4f}, ratio to flat {value / loo['flat']:.3f}")


if __name__ == "__main__":
    main()
