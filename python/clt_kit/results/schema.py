"""The DuckDB schema, as numbered migrations applied in order (recorded in schema_migrations).

A migration is SQL; `$PAPER_REFERENCE_CSV` stands for the path of the paper's numbers shipped in
the package (paper_reference.csv, the paper's Tables 3-23 as printed).
"""

from __future__ import annotations

from pathlib import Path

PAPER_REFERENCE_CSV = Path(__file__).with_name("paper_reference.csv")

MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY,      -- sha256 prefix of the run spec (everything that determines it)
        scale VARCHAR NOT NULL,          -- smoke | mini | paper
        model VARCHAR NOT NULL,          -- the paper model this run stands for: 7b, 35b, ...
        task VARCHAR NOT NULL,           -- IF | SM | MR
        k INTEGER NOT NULL,              -- examples per seen language
        seed BIGINT NOT NULL,
        status VARCHAR NOT NULL,         -- done
        spec JSON NOT NULL,
        environment JSON NOT NULL,       -- package versions, device, determinism flags
        base_weights_sha256 VARCHAR NOT NULL,
        weights_sha256 VARCHAR NOT NULL, -- the evaluated (best-validation) checkpoint
        best_step INTEGER NOT NULL,
        validation_losses JSON NOT NULL,
        mixture_manifest_sha256 VARCHAR NOT NULL,
        train_seconds DOUBLE NOT NULL,
        eval_seconds DOUBLE NOT NULL,
        finished_at TIMESTAMP NOT NULL
    );
    CREATE TABLE manifests (
        manifest_sha256 VARCHAR PRIMARY KEY,
        task VARCHAR NOT NULL,
        k INTEGER NOT NULL,
        set_fingerprint VARCHAR NOT NULL,
        content JSON NOT NULL
    );
    CREATE TABLE examples (
        run_id VARCHAR NOT NULL,
        example_id VARCHAR NOT NULL,
        task VARCHAR NOT NULL,
        lang VARCHAR NOT NULL,
        prompt VARCHAR NOT NULL,
        output VARCHAR NOT NULL,
        reference VARCHAR,
        extracted VARCHAR,               -- MR: the raw answer span; IF: fraction followed
        rule VARCHAR NOT NULL,           -- which extraction rule or metric produced the score
        score DOUBLE NOT NULL,
        PRIMARY KEY (run_id, example_id)
    );
    CREATE TABLE metrics (
        run_id VARCHAR NOT NULL,
        task VARCHAR NOT NULL,
        lang VARCHAR NOT NULL,
        score DOUBLE NOT NULL,           -- mean over the language's examples
        n INTEGER NOT NULL,
        PRIMARY KEY (run_id, task, lang)
    );
    -- The paper's "relative to English" (docs/study.md): per run, the mean score of the 7 non-English
    -- languages divided by the English score of the same run.
    CREATE VIEW rel_to_english AS
    SELECT r.run_id, r.scale, r.model, r.task, r.k, r.seed,
           avg(m.score) FILTER (WHERE m.lang <> 'en') AS non_english,
           max(m.score) FILTER (WHERE m.lang = 'en') AS english,
           avg(m.score) FILTER (WHERE m.lang <> 'en') / NULLIF(max(m.score) FILTER (WHERE m.lang = 'en'), 0) AS rel
    FROM runs r JOIN metrics m USING (run_id)
    WHERE r.status = 'done'
    GROUP BY ALL;
    """,
    # 2: the language of each answer (the kit's identifier) and language fidelity (docs/study.md: IF is
    # switch-aware; the share of answers not in the prompt's language is a metric of its own).
    """
    ALTER TABLE examples ADD COLUMN detected_lang VARCHAR;
    CREATE VIEW language_fidelity AS
    SELECT r.run_id, r.scale, r.model, r.task, r.k, r.seed, e.lang,
           avg(CASE WHEN e.detected_lang NOT IN ('und', e.lang) THEN 1.0 ELSE 0.0 END) AS off_language_share,
           avg(CASE WHEN e.detected_lang = 'und' THEN 1.0 ELSE 0.0 END) AS undetermined_share,
           count(*) AS n
    FROM runs r JOIN examples e USING (run_id)
    WHERE r.status = 'done' AND e.detected_lang IS NOT NULL
    GROUP BY ALL;
    """,
    # 3: the paper's groupings (docs/study.md): seen (es, fr, ja, zh) vs unseen (ar, ko, pt) means and
    # their gap (Figures 3, 5, 12); Latin (en, es, fr, pt) vs non-Latin (ja, zh, ar, ko) means (Figures 6-8).
    """
    CREATE VIEW seen_unseen AS
    SELECT r.run_id, r.scale, r.model, r.task, r.k, r.seed,
           avg(m.score) FILTER (WHERE m.lang IN ('es', 'fr', 'ja', 'zh')) AS seen,
           avg(m.score) FILTER (WHERE m.lang IN ('ar', 'ko', 'pt')) AS unseen,
           avg(m.score) FILTER (WHERE m.lang IN ('es', 'fr', 'ja', 'zh'))
             - avg(m.score) FILTER (WHERE m.lang IN ('ar', 'ko', 'pt')) AS gap
    FROM runs r JOIN metrics m USING (run_id)
    WHERE r.status = 'done'
    GROUP BY ALL;
    CREATE VIEW script_groups AS
    SELECT r.run_id, r.scale, r.model, r.task, r.k, r.seed,
           avg(m.score) FILTER (WHERE m.lang IN ('en', 'es', 'fr', 'pt')) AS latin,
           avg(m.score) FILTER (WHERE m.lang IN ('ja', 'zh', 'ar', 'ko')) AS non_latin
    FROM runs r JOIN metrics m USING (run_id)
    WHERE r.status = 'done'
    GROUP BY ALL;
    """,
    # 4: the paper's per-language numbers (Tables 3-23, as printed; facts from the paper, shipped
    # in the package), and the same "relative to English" and seen/unseen definitions over them.
    # model: aya23-7b | aya23-35b | llama3.1-8b; setting: single | multi; mixture: all | latin |
    # non_latin; lang 'Avg' is the tables' average row (English included; not what figures plot).
    """
    CREATE TABLE paper_reference AS
    SELECT "table"::INTEGER AS table_no, task, model, setting, mixture, k::INTEGER AS k, lang,
           value::DOUBLE AS value, metric
    FROM read_csv('$PAPER_REFERENCE_CSV', header = true, all_varchar = true);
    CREATE VIEW paper_rel_to_english AS
    SELECT table_no, task, model, setting, mixture, k,
           avg(value) FILTER (WHERE lang IN ('es', 'fr', 'ja', 'zh', 'ar', 'ko', 'pt')) AS non_english,
           max(value) FILTER (WHERE lang = 'en') AS english,
           avg(value) FILTER (WHERE lang IN ('es', 'fr', 'ja', 'zh', 'ar', 'ko', 'pt'))
             / NULLIF(max(value) FILTER (WHERE lang = 'en'), 0) AS rel
    FROM paper_reference
    GROUP BY ALL;
    CREATE VIEW paper_seen_unseen AS
    SELECT table_no, task, model, setting, mixture, k,
           avg(value) FILTER (WHERE lang IN ('es', 'fr', 'ja', 'zh')) AS seen,
           avg(value) FILTER (WHERE lang IN ('ar', 'ko', 'pt')) AS unseen,
           avg(value) FILTER (WHERE lang IN ('es', 'fr', 'ja', 'zh'))
             - avg(value) FILTER (WHERE lang IN ('ar', 'ko', 'pt')) AS gap
    FROM paper_reference
    GROUP BY ALL;
    """,
    # 5: the hashes of every file a run read (base model, mixture, test set), each checked against
    # its record before the run used it; NULL for runs stored before.
    """
    ALTER TABLE runs ADD COLUMN inputs JSON;
    """,
    # 6: MR's two readings of each answer, as lm-evaluation-harness's MGSM task stores them:
    # strict (the number on the language's answer line) and flexible (the last number). `score`,
    # which the figures and views use, is the answer line's when there is one, else the last
    # number's (`rule` says which). NULL for the other tasks and for rows stored before.
    # And, for an answer an LLM judge rated, the judge: model, temperature, prompt sha256 and endpoint.
    """
    ALTER TABLE examples ADD COLUMN strict_score DOUBLE;
    ALTER TABLE examples ADD COLUMN flexible_score DOUBLE;
    ALTER TABLE examples ADD COLUMN judge JSON;
    """,
    # 7: the study's axes on every run (study.toml): setting (single: one task per run), mixture
    # (all | latin | non_latin: which seen languages it trained on; a k=0 run, English only, is
    # stored under 'all' and is the k=0 point of every mixture) and the tasks it trained on. Runs
    # stored before were all single-task runs on the full mixture. The views group by them too,
    # and the paper's numbers get the script grouping (Latin: en, es, fr, pt; non-Latin: ja, zh,
    # ar, ko) that Figures 6-8 plot.
    """
    ALTER TABLE runs ADD COLUMN setting VARCHAR DEFAULT 'single';
    ALTER TABLE runs ADD COLUMN mixture VARCHAR DEFAULT 'all';
    ALTER TABLE runs ADD COLUMN tasks JSON;
    UPDATE runs SET setting = 'single' WHERE setting IS NULL;
    UPDATE runs SET mixture = 'all' WHERE mixture IS NULL;
    UPDATE runs SET tasks = to_json([task]) WHERE tasks IS NULL;
    CREATE OR REPLACE VIEW rel_to_english AS
    SELECT r.run_id, r.scale, r.model, r.task, r.k, r.seed,
           avg(m.score) FILTER (WHERE m.lang <> 'en') AS non_english,
           max(m.score) FILTER (WHERE m.lang = 'en') AS english,
           avg(m.score) FILTER (WHERE m.lang <> 'en') / NULLIF(max(m.score) FILTER (WHERE m.lang = 'en'), 0) AS rel,
           r.setting, r.mixture
    FROM runs r JOIN metrics m USING (run_id)
    WHERE r.status = 'done'
    GROUP BY ALL;
    CREATE OR REPLACE VIEW seen_unseen AS
    SELECT r.run_id, r.scale, r.model, r.task, r.k, r.seed,
           avg(m.score) FILTER (WHERE m.lang IN ('es', 'fr', 'ja', 'zh')) AS seen,
           avg(m.score) FILTER (WHERE m.lang IN ('ar', 'ko', 'pt')) AS unseen,
           avg(m.score) FILTER (WHERE m.lang IN ('es', 'fr', 'ja', 'zh'))
             - avg(m.score) FILTER (WHERE m.lang IN ('ar', 'ko', 'pt')) AS gap,
           r.setting, r.mixture
    FROM runs r JOIN metrics m USING (run_id)
    WHERE r.status = 'done'
    GROUP BY ALL;
    CREATE OR REPLACE VIEW script_groups AS
    SELECT r.run_id, r.scale, r.model, r.task, r.k, r.seed,
           avg(m.score) FILTER (WHERE m.lang IN ('en', 'es', 'fr', 'pt')) AS latin,
           avg(m.score) FILTER (WHERE m.lang IN ('ja', 'zh', 'ar', 'ko')) AS non_latin,
           r.setting, r.mixture
    FROM runs r JOIN metrics m USING (run_id)
    WHERE r.status = 'done'
    GROUP BY ALL;
    CREATE OR REPLACE VIEW language_fidelity AS
    SELECT r.run_id, r.scale, r.model, r.task, r.k, r.seed, e.lang,
           avg(CASE WHEN e.detected_lang NOT IN ('und', e.lang) THEN 1.0 ELSE 0.0 END) AS off_language_share,
           avg(CASE WHEN e.detected_lang = 'und' THEN 1.0 ELSE 0.0 END) AS undetermined_share,
           count(*) AS n,
           r.setting, r.mixture
    FROM runs r JOIN examples e USING (run_id)
    WHERE r.status = 'done' AND e.detected_lang IS NOT NULL
    GROUP BY ALL;
    CREATE VIEW paper_script_groups AS
    SELECT table_no, task, model, setting, mixture, k,
           avg(value) FILTER (WHERE lang IN ('en', 'es', 'fr', 'pt')) AS latin,
           avg(value) FILTER (WHERE lang IN ('ja', 'zh', 'ar', 'ko')) AS non_latin
    FROM paper_reference
    GROUP BY ALL;
    """,
    # 8: multi-task runs and training dynamics. A multi-task run (runs.task is its setting's name,
    # runs.tasks the tasks it trained on) is scored on each of its tasks, so the views now give a
    # row per run and scored task: their `task` is the metric's (for a single-task run, the same as
    # the run's). checkpoint_metrics: the per-language means of a fixed subsample of each test set
    # at every checkpoint of a run (`step`; step 0 is the base model); checkpoint_seen_unseen: their
    # seen and unseen means, what Table 2 correlates. Runs stored before have no checkpoint rows.
    """
    CREATE TABLE checkpoint_metrics (
        run_id VARCHAR NOT NULL,
        step INTEGER NOT NULL,
        task VARCHAR NOT NULL,
        lang VARCHAR NOT NULL,
        score DOUBLE NOT NULL,           -- mean over the language's subsample
        n INTEGER NOT NULL,
        PRIMARY KEY (run_id, step, task, lang)
    );
    CREATE OR REPLACE VIEW rel_to_english AS
    SELECT r.run_id, r.scale, r.model, m.task, r.k, r.seed,
           avg(m.score) FILTER (WHERE m.lang <> 'en') AS non_english,
           max(m.score) FILTER (WHERE m.lang = 'en') AS english,
           avg(m.score) FILTER (WHERE m.lang <> 'en') / NULLIF(max(m.score) FILTER (WHERE m.lang = 'en'), 0) AS rel,
           r.setting, r.mixture
    FROM runs r JOIN metrics m USING (run_id)
    WHERE r.status = 'done'
    GROUP BY ALL;
    CREATE OR REPLACE VIEW seen_unseen AS
    SELECT r.run_id, r.scale, r.model, m.task, r.k, r.seed,
           avg(m.score) FILTER (WHERE m.lang IN ('es', 'fr', 'ja', 'zh')) AS seen,
           avg(m.score) FILTER (WHERE m.lang IN ('ar', 'ko', 'pt')) AS unseen,
           avg(m.score) FILTER (WHERE m.lang IN ('es', 'fr', 'ja', 'zh'))
             - avg(m.score) FILTER (WHERE m.lang IN ('ar', 'ko', 'pt')) AS gap,
           r.setting, r.mixture
    FROM runs r JOIN metrics m USING (run_id)
    WHERE r.status = 'done'
    GROUP BY ALL;
    CREATE OR REPLACE VIEW script_groups AS
    SELECT r.run_id, r.scale, r.model, m.task, r.k, r.seed,
           avg(m.score) FILTER (WHERE m.lang IN ('en', 'es', 'fr', 'pt')) AS latin,
           avg(m.score) FILTER (WHERE m.lang IN ('ja', 'zh', 'ar', 'ko')) AS non_latin,
           r.setting, r.mixture
    FROM runs r JOIN metrics m USING (run_id)
    WHERE r.status = 'done'
    GROUP BY ALL;
    CREATE OR REPLACE VIEW language_fidelity AS
    SELECT r.run_id, r.scale, r.model, e.task, r.k, r.seed, e.lang,
           avg(CASE WHEN e.detected_lang NOT IN ('und', e.lang) THEN 1.0 ELSE 0.0 END) AS off_language_share,
           avg(CASE WHEN e.detected_lang = 'und' THEN 1.0 ELSE 0.0 END) AS undetermined_share,
           count(*) AS n,
           r.setting, r.mixture
    FROM runs r JOIN examples e USING (run_id)
    WHERE r.status = 'done' AND e.detected_lang IS NOT NULL
    GROUP BY ALL;
    CREATE VIEW checkpoint_seen_unseen AS
    SELECT r.run_id, r.scale, r.model, c.task, r.k, r.seed, c.step,
           avg(c.score) FILTER (WHERE c.lang IN ('es', 'fr', 'ja', 'zh')) AS seen,
           avg(c.score) FILTER (WHERE c.lang IN ('ar', 'ko', 'pt')) AS unseen,
           r.setting, r.mixture
    FROM runs r JOIN checkpoint_metrics c USING (run_id)
    WHERE r.status = 'done'
    GROUP BY ALL;
    """,
    # 9: every checkpoint's validation loss as rows (the loss curve of a run is one query); `best`
    # marks the checkpoint that was evaluated.
    """
    CREATE VIEW validation_losses AS
    SELECT r.run_id, r.scale, r.model, r.task, r.k, r.seed,
           CAST(j.key AS INTEGER) AS step, CAST(j.value AS DOUBLE) AS loss,
           CAST(j.key AS INTEGER) = r.best_step AS best,
           r.setting, r.mixture
    FROM runs r, json_each(r.validation_losses) j
    WHERE r.status = 'done';
    """,
    # 10: fitted curves of score against k and the advice they give (`clt-kit advise`,
    # results/advise.py, docs/advise.md): one row per (source, scale, seed, model, task, setting,
    # mixture, group, target). source: kit | paper; seed NULL: every seed of the scale (or the
    # paper); lang_group: non_english (relative to English), seen, unseen or a language code;
    # target: gain:<share of the gain to the plateau> or rel:<share of English>; k_needed NULL when
    # no k reaches the target (status says why); [k_low, k_high] its bootstrap interval at `level`.
    """
    CREATE TABLE curve_fits (
        source VARCHAR NOT NULL,
        scale VARCHAR,
        seed BIGINT,
        model VARCHAR NOT NULL,
        task VARCHAR NOT NULL,
        setting VARCHAR NOT NULL,
        mixture VARCHAR NOT NULL,
        lang_group VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        form VARCHAR NOT NULL,
        level DOUBLE NOT NULL,
        at_k0 DOUBLE,
        plateau DOUBLE,
        half_k DOUBLE,
        k_needed INTEGER,
        k_low INTEGER,
        k_high INTEGER,
        k_max INTEGER NOT NULL,
        n_points INTEGER NOT NULL,
        status VARCHAR NOT NULL,        -- answered | beyond | no_gain | unreachable | too_few_runs
        message VARCHAR NOT NULL,
        bootstrap INTEGER NOT NULL,     -- bootstrap replicates behind the interval
        fitted_at TIMESTAMP NOT NULL
    );
    """,
]
