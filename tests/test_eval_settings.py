"""Evaluation settings belong to what is evaluated: `eval` of a `train` folder takes the scale its
sft.json records, of any other model the paper scale's (prompts never cut, the paper's answer
length, stop strings); a prompt the paper scale would have to cut is an error; every kept
evaluation records its settings, and `ingest` makes another run of the same training evaluated
under other settings. CPU threads are an option where results may depend on them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from clt_kit.cli import main
from clt_kit.evaluate.generate import generate
from clt_kit.jsonio import InputError, read_json, read_jsonl, write_json, write_jsonl
from clt_kit.pieces import eval_scale, run_about
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.scales import MINI, PAPER, SMOKE
from clt_kit.train.pretrain import load_base
from tests.foreign_models import foreign_model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GPT-2 (context 1024) that is not a `train` folder."""
    words = "one two three four five six seven eight nine ten eleven twelve apples pears question answer".split()
    return foreign_model([" ".join(words[i:] + words[:i]) for i in range(len(words))], tmp_path_factory.mktemp("m") / "gpt2", context=1024)


def _test_file(path: Path, words: int, n: int = 2) -> Path:
    """An SM test set of `n` English items with prompts of about `words` words."""
    write_jsonl(path, [{"id": f"t{i}", "lang": "en", "task": "SM", "prompt": " ".join(["apples pears"] * (words // 2)) + f" {i}",
                        "response": "apples"} for i in range(n)])
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_any_other_model_is_evaluated_with_the_paper_scales_settings_and_no_prompt_is_cut(model: Path, tmp_path: Path, caplog) -> None:
    test = _test_file(tmp_path / "test.jsonl", 600)  # longer than the mini scale's window of 256 tokens
    code, output = _invoke("eval", "--model", str(model), "--test", str(test), "--task", "SM", "--threads", "1")
    assert code == 0, output
    assert "evaluating with the paper scale's settings: prompts never cut, answers up to 512 tokens" in output
    assert "lose their beginning" not in caplog.text + output
    assert eval_scale(str(model), None) == "paper" and eval_scale(str(model), "mini") == "mini"


def test_a_prompt_the_paper_scale_would_have_to_cut_is_an_error(model: Path, tmp_path: Path) -> None:
    test = _test_file(tmp_path / "test.jsonl", 1200)  # more tokens than the model's 1024 positions
    code, output = _invoke("eval", "--model", str(model), "--test", str(test), "--task", "SM")
    assert code == 2
    assert "error: 2 of 2 prompts (the longest" in output and "do not fit the model's context of 1024 tokens" in output
    # asked for explicitly, the mini scale cuts them (and says so), as it always has
    loaded, tokenizer = load_base(model)
    answers = generate(loaded, tokenizer, [p["prompt"] for p in read_jsonl(test)], 4, 2, MINI.eval.seq_len)
    assert len(answers) == 2
    with pytest.raises(InputError, match="do not fit the model's context of 1024 tokens"):
        generate(loaded, tokenizer, [p["prompt"] for p in read_jsonl(test)], 4, 2, None)


def test_answers_end_where_an_uncut_prompts_context_does(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A prompt of about 1000 tokens in a context of 1024 leaves room for the rest, not 512 new tokens."""
    from clt_kit.evaluate import generate as gen

    loaded, tokenizer = load_base(model)
    prompt = " ".join(["apples pears"] * 495)
    n = len(gen.prompt_ids(tokenizer, prompt))
    assert 900 < n < 1024
    seen: list[int] = []
    real = gen.greedy

    def counting(*args, **kwargs):  # the real greedy, watched
        out = real(*args, **kwargs)
        seen.extend(len(t) for t in out)
        return out

    monkeypatch.setattr(gen, "greedy", counting)
    generate(loaded, tokenizer, [prompt], 512, 1, None)
    assert seen and max(seen) <= 1024 - n


def _trained_folder(model: Path, root: Path, smoke_world, scale: str = "smoke") -> Path:
    """A folder as `train --out` leaves it (the model, and sft.json with the run's description),
    without the training: ingest reads only what sft.json records."""
    build_mixture(MixtureSpec("SM", SMOKE.english_train, 4, 0), smoke_world.train("SM"), smoke_world.test("SM"), root / "mix", lenient=True)
    folder = root / "tuned"
    loaded, tokenizer = load_base(model)
    loaded.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_json(folder / "sft.json", {"best_step": 1, "validation_losses": {"1": 1.0}, "train_losses": [1.0], "weights_sha256": "w" * 64,
                                     "base_weights_sha256": "b" * 64, "n_train": 1, "n_validation": 1, "determinism": {},
                                     "recipe": {"steps": 1}, "train_seconds": 1.0,
                                     "run": run_about(scale, 0, "8b", str(model), root / "mix")})
    return folder


def test_a_train_folder_is_evaluated_with_its_scale_every_setting_recorded_and_other_settings_are_another_run(
        model: Path, tmp_path: Path, smoke_world) -> None:
    folder = _trained_folder(model, tmp_path, smoke_world)
    test = str(smoke_world.test("SM"))
    code, output = _invoke("eval", "--model", str(folder), "--test", test, "--task", "SM")
    assert code == 0, output
    assert f"evaluating with the smoke scale's settings: prompts cut to their last {SMOKE.eval.seq_len} tokens" in output
    settings = read_json(folder / "eval" / "SM.json")["settings"]
    assert {k: settings[k] for k in ("scale", "prompt_window", "max_new_tokens", "batch", "shots", "threads", "precision")} == {
        "scale": "smoke", "prompt_window": SMOKE.eval.seq_len, "max_new_tokens": SMOKE.eval.max_new_tokens,
        "batch": SMOKE.eval.batch, "shots": 0, "threads": 1, "precision": "fp32"}
    assert settings["backend"] == {"backend": "transformers"} and settings["stop"]["tokens"] == ["<|endoftext|>"]
    code, output = _invoke("ingest", str(folder), "--results", str(tmp_path / "results"))
    assert code == 0, output
    first = output.split("run ")[1].split()[0]
    # the same training evaluated with the paper scale's settings: another run, never merged with the first
    code, output = _invoke("eval", "--model", str(folder), "--test", test, "--task", "SM", "--scale", "paper", "--threads", "1")
    assert code == 0, output
    assert read_json(folder / "eval" / "SM.json")["settings"]["max_new_tokens"] == PAPER.eval.max_new_tokens
    code, output = _invoke("ingest", str(folder), "--results", str(tmp_path / "results"))
    assert code == 0, output
    second = output.split("run ")[1].split()[0]
    assert first != second and "runs: 1 loaded, 1 already in" in output
    import duckdb

    with duckdb.connect(str(tmp_path / "results" / "clt.duckdb"), read_only=True) as con:
        windows = con.execute("SELECT run_id, json_extract(spec, '$.evaluation.SM.max_new_tokens') FROM runs ORDER BY 1").fetchall()
    assert dict(windows) == {first: str(SMOKE.eval.max_new_tokens), second: str(PAPER.eval.max_new_tokens)}


@pytest.mark.parametrize("command", ["eval", "train"])
def test_threads_are_fixed_at_the_mini_scale(command: str, model: Path, tmp_path: Path) -> None:
    test = _test_file(tmp_path / "test.jsonl", 10)
    mix = tmp_path / "mix"
    mix.mkdir()
    args = {"eval": ["eval", "--model", str(model), "--test", str(test), "--task", "SM"],
            "train": ["train", "--base", str(model), "--mixture", str(mix), "--out", str(tmp_path / "out")]}[command]
    code, output = _invoke(*args, "--scale", "mini", "--threads", "2")
    assert code == 2 and "error: --threads 2: the mini scale runs on 1 thread(s), fixed" in output
    assert MINI.threads(1, None) == 1 and PAPER.threads(1, 3) == 3 and PAPER.threads(1, None) >= 1


def test_eval_shows_answers_done_tokens_per_second_and_time_left(model: Path, capsys) -> None:
    loaded, tokenizer = load_base(model)
    generate(loaded, tokenizer, ["apples pears"] * 3, 3, 1, None, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "prompts" in err and "tokens/s" in err and "<" in err  # tqdm's "elapsed<left"


def test_train_announces_its_recipe_before_the_first_step_and_reports_every_step(model: Path) -> None:
    from clt_kit.train.sft import sft

    records = [{"id": f"r{i}", "lang": "en", "prompt": f"apples {i}?", "response": "pears"} for i in range(12)]
    events: list[object] = []
    recipe = dataclasses.replace(SMOKE.sft, steps=3, batch=4, eval_every=2)
    result = sft(model, records, recipe, 0, announce=lambda used: events.append(dict(used)), on_step=lambda step, steps: events.append((step, steps)),
                 on_checkpoint=lambda m, t, step: events.append(f"checkpoint {step}"))
    assert isinstance(events[0], dict) and events[1:] == [(1, 3), (2, 3), "checkpoint 2", (3, 3), "checkpoint 3"]
    assert events[0] == result.recipe and result.recipe["precision"] == "fp32" and result.recipe["threads"] == 1
    assert {k: result.recipe[k] for k in ("steps", "global_batch", "examples")} == {"steps": 3, "global_batch": 4, "examples": 10}


def test_a_sweeps_bar_counts_the_share_of_steps_of_the_run_in_training(tmp_path: Path) -> None:
    from clt_kit.layout import Layout
    from clt_kit.pipeline import _shown_progress, trained_share

    layout = Layout(tmp_path)
    (layout.work / "locks").mkdir(parents=True)
    shown: list[float] = []
    on_step = _shown_progress(layout, "abc", shown.append)
    assert trained_share(layout, "abc") == 0.0
    on_step(1, 4)
    assert shown == [0.25] and trained_share(layout, "abc") == 0.25  # the first step is written at once
    on_step(4, 4)
    assert shown == [0.25, 1.0] and trained_share(layout, "abc") == 1.0  # the last one always
