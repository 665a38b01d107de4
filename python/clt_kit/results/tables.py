"""The paper's tables, from SQL over the results database (study.toml's `draw` of each table):

- per_language (Tables 3-23): a row per k, a column per language and the average over all 8, the
  kit's value beside the paper's (`paper_reference`);
- dynamics (Table 2): a row per model, a column per task, the Spearman correlation of the seen and
  the unseen means over the checkpoints of each run (k > 0), averaged over the runs. The paper
  prints no numbers of it that the kit ships, so the table has the kit's values only.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

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
WHERE r.status = 'done' AND r.scale = ? AND r.seed = ? AND r.setting = ? AND r.model = ? AND m.task = ?
  AND (r.mixture = ? OR (r.k = 0 AND r.mixture = ?))
ORDER BY r.k, m.lang
"""

PAPER_TABLE_SQL = "SELECT k, lang, value FROM paper_reference WHERE table_no = ? ORDER BY k, lang"

# Table 2: per run and task, Spearman's rank correlation of the seen and unseen means over its
# checkpoints (Pearson's over average ranks, ties sharing theirs; NaN when either side never
# moves), then per model and task the mean over the runs whose correlation is defined.
DYNAMICS_SQL = """
WITH ranked AS (
  SELECT model, task, run_id,
         rank() OVER (PARTITION BY run_id, task ORDER BY seen)
           + (count(*) OVER (PARTITION BY run_id, task, seen) - 1) / 2.0 AS seen_rank,
         rank() OVER (PARTITION BY run_id, task ORDER BY unseen)
           + (count(*) OVER (PARTITION BY run_id, task, unseen) - 1) / 2.0 AS unseen_rank
  FROM checkpoint_seen_unseen
  WHERE scale = ? AND seed = ? AND setting = ? AND list_contains(?, mixture) AND k > 0
    AND list_contains(?, model) AND list_contains(?, task)
), per_run AS (
  SELECT model, task, run_id, corr(seen_rank, unseen_rank) AS rho, count(*) AS checkpoints
  FROM ranked GROUP BY ALL
)
SELECT model, task, avg(rho) FILTER (WHERE NOT isnan(rho)) AS rho, count(*) FILTER (WHERE NOT isnan(rho)) AS runs,
       count(*) AS all_runs, min(checkpoints) AS checkpoints
FROM per_run GROUP BY ALL ORDER BY model, task
"""


@dataclass(frozen=True)
class Cell:
    ours: float | None
    paper: float | None


@dataclass(frozen=True)
class TableFiles:
    number: int
    csv: Path
    markdown: Path
    # per_language: (k, language or Avg) -> values; dynamics: (model, task) -> values
    cells: dict[tuple[int | str, str], Cell]

    @property
    def ks(self) -> list[int | str]:
        """The rows: k values (per-language tables) or models (Table 2)."""
        return sorted({k for k, _ in self.cells}, key=lambda k: (isinstance(k, str), k))


def _no_runs(db: Path, table: TableSpec, scale: str, seed: int) -> ValueError:
    return ValueError(f"{db}: no finished runs for table {table.number} ({table.about}) at scale={scale} seed={seed};"
                      f" run `clt-kit reproduce --table {table.number}` first")


def _ours(con: duckdb.DuckDBPyConnection, table: TableSpec, scale: str, seed: int) -> dict[tuple[int, str], float]:
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


def per_language_table(table: TableSpec, db: Path, out_dir: Path, scale: str, seed: int) -> TableFiles:
    """Writes a per-language table of (scale, seed) as CSV (one row per k and language: ours, the
    paper's) and Markdown (the paper's layout), from SQL over `db`."""
    with connect(db, read_only=True) as con:
        ours = _ours(con, table, scale, seed)
        if not ours:
            raise _no_runs(db, table, scale, seed)
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


def dynamics_table(table: TableSpec, db: Path, out_dir: Path, scale: str, seed: int) -> TableFiles:
    """Writes Table 2 of (scale, seed): CSV (one row per model and task) and Markdown (a row per
    model, a column per task), from SQL over `db`'s checkpoint scores."""
    with connect(db, read_only=True) as con:
        found = con.execute(DYNAMICS_SQL, [scale, seed, table.setting, list(table.mixtures), list(table.models), list(table.tasks)]).fetchall()
    if not found:
        raise _no_runs(db, table, scale, seed)
    cells = {(model, task): Cell(rho, None) for model, task, rho, *_ in found}
    out_dir.mkdir(parents=True, exist_ok=True)
    files = TableFiles(table.number, out_dir / f"table{table.number}.csv", out_dir / f"table{table.number}.md", cells)
    with files.csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["table", "model", "paper_model", "task", "setting", "mixtures", "spearman", "runs", "runs_constant", "checkpoints_per_run"])
        for model, task, rho, runs, all_runs, checkpoints in found:
            writer.writerow([table.number, model, PAPER_MODELS.get(model, ""), task, table.setting, " ".join(table.mixtures),
                             "" if rho is None else rho, runs, all_runs - runs, checkpoints])
    models = [m for m in table.models if any(key[0] == m for key in cells)]
    value = lambda c: "-" if c is None or c.ours is None else f"{c.ours:+.2f}"  # noqa: E731
    lines = [
        f"Table {table.number}: {table.about}.",
        f"clt-kit at scale {scale}, seed {seed}; '-': no run whose seen or unseen mean moved during training.",
        "",
        "| model | " + " | ".join(table.tasks) + " |",
        "|---|" + "---|" * len(table.tasks),
        *(f"| {m} | " + " | ".join(value(cells.get((m, t))) for t in table.tasks) + " |" for m in models),
    ]
    files.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files


# The tables a table of study.toml can name as its `draw`.
TABLE_DRAWERS: dict[str, Callable[[TableSpec, Path, Path, str, int], TableFiles]] = {
    "per_language": per_language_table,
    "dynamics": dynamics_table,
}


def draw_table(table: TableSpec, db: Path, out_dir: Path, scale: str, seed: int) -> TableFiles:
    """Draws `table` (study.toml) from the runs in `db` of (scale, seed)."""
    return TABLE_DRAWERS[table.draw](table, db, out_dir, scale, seed)
