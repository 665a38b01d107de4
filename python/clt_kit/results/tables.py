"""The paper's per-language tables, from SQL over the results database: a row per k, a column per
language and the average over all 8, the kit's value beside the paper's (`paper_reference`)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.results.db import connect
from clt_kit.scales import PAPER_MODELS
from clt_kit.study import ENGLISH_ONLY_MIXTURE, TableSpec

AVG = "Avg"  # the paper's average row: the mean over the 8 languages, English included
COLUMNS = (*PAPER_LANGUAGES, AVG)

# Ours: per-language means of the table's runs (its mixture's own, and the English-only k=0 run).
TABLE_SQL = """
SELECT r.k, m.lang, m.score, r.run_id
FROM runs r JOIN metrics m USING (run_id)
WHERE r.status = 'done' AND r.scale = ? AND r.seed = ? AND r.setting = ? AND r.model = ? AND r.task = ?
  AND m.task = r.task AND (r.mixture = ? OR (r.k = 0 AND r.mixture = ?))
ORDER BY r.k, m.lang
"""

PAPER_TABLE_SQL = "SELECT k, lang, value FROM paper_reference WHERE table_no = ? ORDER BY k, lang"


@dataclass(frozen=True)
class Cell:
    ours: float | None
    paper: float | None


@dataclass(frozen=True)
class TableFiles:
    number: int
    csv: Path
    markdown: Path
    cells: dict[tuple[int, str], Cell]  # (k, language or Avg) -> values

    @property
    def ks(self) -> list[int]:
        return sorted({k for k, _ in self.cells})


def _ours(con, table: TableSpec, scale: str, seed: int) -> dict[tuple[int, str], float]:
    rows = con.execute(TABLE_SQL, [scale, seed, table.setting, table.models[0], table.tasks[0],
                                   table.mixtures[0], ENGLISH_ONLY_MIXTURE]).fetchall()
    values = {(k, lang): score for k, lang, score, _ in rows}
    for k in {k for k, _ in values}:
        langs = [values[(k, lang)] for lang in PAPER_LANGUAGES if (k, lang) in values]
        if len(langs) == len(PAPER_LANGUAGES):
            values[(k, AVG)] = sum(langs) / len(langs)
    return values


def _markdown(table: TableSpec, scale: str, seed: int, files_cells: dict[tuple[int, str], Cell]) -> str:
    def cell(c: Cell | None) -> str:
        if c is None:
            return ""
        ours = "-" if c.ours is None else f"{c.ours:.2f}"
        return ours if c.paper is None else f"{ours} ({c.paper:.2f})"

    ks = sorted({k for k, _ in files_cells})
    lines = [
        f"Table {table.number}: {table.about}.",
        f"clt-kit at scale {scale}, seed {seed}; in parentheses the paper's value for the same k and"
        " language (arXiv 2504.16677, as printed), where it has one. Avg: the mean over the 8 languages.",
        "",
        "| k | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    lines += [f"| {k} | " + " | ".join(cell(files_cells.get((k, c))) for c in COLUMNS) + " |" for k in ks]
    return "\n".join(lines) + "\n"


def draw_table(table: TableSpec, db: Path, out_dir: Path, scale: str, seed: int) -> TableFiles:
    """Writes table `table` of (scale, seed) as CSV (one row per k and language: ours, the
    paper's) and Markdown (the paper's layout), from SQL over `db`."""
    with connect(db, read_only=True) as con:
        ours = _ours(con, table, scale, seed)
        if not ours:
            raise ValueError(f"{db}: no finished runs for table {table.number} ({table.about}) at scale={scale} seed={seed};"
                             f" run `clt-kit reproduce --table {table.number}` first")
        paper = {(k, lang): v for k, lang, v in con.execute(PAPER_TABLE_SQL, [table.number]).fetchall()}
    cells = {key: Cell(ours.get(key), paper.get(key)) for key in sorted(set(ours) | set(paper), key=lambda x: (x[0], COLUMNS.index(x[1])))}
    out_dir.mkdir(parents=True, exist_ok=True)
    files = TableFiles(table.number, out_dir / f"table{table.number}.csv", out_dir / f"table{table.number}.md", cells)
    with files.csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["table", "model", "paper_model", "task", "setting", "mixture", "k", "lang", "clt_kit", "paper"])
        model = table.models[0]
        for (k, lang), c in cells.items():
            writer.writerow([table.number, model, PAPER_MODELS.get(model, ""), table.tasks[0], table.setting, table.mixtures[0],
                             k, lang, "" if c.ours is None else c.ours, "" if c.paper is None else c.paper])
    files.markdown.write_text(_markdown(table, scale, seed, cells), encoding="utf-8")
    return files
