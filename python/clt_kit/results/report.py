"""One page with the paper's findings checked and every figure and table a reproduction drew
(`clt-kit reproduce --all`):
Markdown, with the figures linked by relative path, so it opens offline beside them."""

from __future__ import annotations

import os
from pathlib import Path

from clt_kit.results import advise
from clt_kit.results.advise_figure import draw_advice
from clt_kit.results.claims import check_claims, claims_markdown
from clt_kit.results.figures import FigureFiles
from clt_kit.results.tables import TableFiles
from clt_kit.study import Study


def write_report(outputs: list[FigureFiles | TableFiles], study: Study, db: Path, path: Path, scale: str, seed: int) -> Path:
    """Writes the report to `path`: the paper's findings checked (claims, on the paper's numbers
    and on the runs of (scale, seed) in `db`), then the figures and the tables in the paper's order."""
    figures = sorted((o for o in outputs if isinstance(o, FigureFiles)), key=lambda f: f.number)
    tables = sorted((o for o in outputs if isinstance(o, TableFiles)), key=lambda t: t.number)
    rel = lambda p: Path(os.path.relpath(p, path.parent)).as_posix()  # noqa: E731
    lines = [
        f"# clt-kit reproduction: scale {scale}, seed {seed}",
        "",
        "Every figure and table below is drawn from SQL over `clt.duckdb` beside this page; the paper's",
        "numbers (arXiv 2504.16677, its Tables 3-23 as printed) are shown beside the kit's, never recomputed.",
        "",
        "## The paper's findings, checked",
        "",
        "Each claim states what must hold; it is checked on the paper's own numbers and on these runs"
        " (held, not held, or not measurable with the runs it still needs).",
        "",
        claims_markdown(check_claims(db, scale, seed), scale, seed),
        *_advice_section(db, path, scale, seed, rel),
        "## Figures",
        "",
    ]
    for fig in figures:
        spec = study.figure(fig.number)
        lines += [f"### Figure {fig.number}", "", f"{spec.about[0].upper()}{spec.about[1:]}.", "", f"![Figure {fig.number}]({rel(fig.png)})", "",
                  f"Values: [{fig.csv.name}]({rel(fig.csv)}).", ""]
    lines += ["## Tables", ""]
    for table in tables:
        lines += [f"### Table {table.number}", "", table.markdown.read_text(encoding="utf-8"),
                  f"Values: [{table.csv.name}]({rel(table.csv)}).", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _advice_section(db: Path, path: Path, scale: str, seed: int, rel) -> list[str]:
    """How much non-English data each curve needs (`clt-kit advise`, docs/advise.md), as a table and a figure."""
    found = advise.answer(advise.Request(db=db, scale=scale, seed=seed))
    target = advise.Target()
    figure = draw_advice(found.curves, found.advice, "non_english", path.parent / "figures" / "advice-non_english.png",
                         f"{found.source}: {target.about()}", advise.DEFAULT_LEVEL)
    return ["## How much non-English data: the fitted curves", "",
            f"The k per seen language at which each curve's fit reaches {target.about()} (relative to English), with its"
            f" {advise.DEFAULT_LEVEL:.0%} bootstrap interval over the test items; `clt-kit advise` gives every group, and"
            " `clt-kit advise --next` the runs that would narrow the intervals most.", "",
            advise.advice_markdown(found.advice, "non_english"), f"![advice]({rel(figure)})", ""]
