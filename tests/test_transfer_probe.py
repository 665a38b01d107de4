"""scripts/transfer_probe.py, the quick measure of a variant's cross-lingual transfer, runs at the
smoke scale: a chat-format world, one base, a run per k, each scored and recorded."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from clt_kit.chat import ASSISTANT
from clt_kit.languages import NON_ENGLISH, PAPER_LANGUAGES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SHARES = "en:0.2,pt:0.2,es:0.1,fr:0.1,ja:0.1,zh:0.1,ar:0.1,ko:0.1"  # Portuguese's share doubled


def test_the_probe_records_each_run_with_its_seen_unseen_and_in_language_shares(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "scripts" / "transfer_probe.py"), "--out", str(tmp_path), "--scale", "smoke",
           "--item-format", "chat", "--corpus-shares", SHARES, "--size", "32,2,2,64", "--tasks", "SM", "--ks", "0,4",
           "--per-lang", "2", "--steps", "5"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(r["task"], r["k"], r["steps"], r["batch"], r["sft_seed"]) for r in runs] == [("SM", 0, 5, 8, 0), ("SM", 4, 5, 8, 0)]
    for run in runs:
        assert set(run["per_language"]) == set(PAPER_LANGUAGES) and set(run["in_language"]) == set(NON_ENGLISH)
        assert set(run["latin_letters"]) == {"ar", "ja", "ko", "zh"}
        assert run["model"]["layers"] == 2 and run["world"]["corpus_item_format"] == "chat"
        assert run["world"]["corpus_shares"] == {"en": 0.2, "pt": 0.2, "es": 0.1, "fr": 0.1, "ja": 0.1, "zh": 0.1, "ar": 0.1, "ko": 0.1}
    assert ASSISTANT in (tmp_path / "world" / "corpus.jsonl").read_text()
    assert done.stdout.count("SM k=") == 2 and "pretrain 7b" in done.stderr
    answers = sorted((tmp_path / "answers").iterdir())
    base = next((tmp_path / "models").glob("base-7b-*")).name  # the answers of another base in --out are kept apart
    assert [p.name for p in answers] == [f"{base}-SM-k0-lr0.001-steps5-batch8-s0.jsonl", f"{base}-SM-k4-lr0.001-steps5-batch8-s0.jsonl"]
    assert len(answers[0].read_text().splitlines()) == 2 * len(PAPER_LANGUAGES)  # --per-lang 2
    # the same variant again, with another fine-tuning seed and batch size, reuses its world and
    # base model and fine-tunes on another sample of the mixture
    again = subprocess.run(cmd[:-6] + ["--ks", "4", "--per-lang", "2", "--steps", "5", "--sft-seed", "1", "--batch", "4"],
                           capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "pretrain" not in again.stderr
    rerun = json.loads((tmp_path / "results.jsonl").read_text().splitlines()[-1])
    assert (rerun["k"], rerun["seed"], rerun["sft_seed"], rerun["batch"]) == (4, 0, 1, 4)
    assert "batch=4 sft seed 1" in again.stdout
    samples = [(tmp_path / "mixtures" / f"SM-k4-s{s}" / "mixture.jsonl").read_text() for s in (0, 1)]
    assert samples[0] != samples[1]


def _probe_module():
    spec = importlib.util.spec_from_file_location("transfer_probe", ROOT / "scripts" / "transfer_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_corpus_is_set_by_englishs_share_or_by_every_languages_and_not_both(capsys: pytest.CaptureFixture) -> None:
    probe = _probe_module()
    base = ["--out", "unused", "--scale", "smoke"]
    english = probe.variant(probe._arguments(base + ["--english-share", "0.2"])).world
    assert (english.corpus_english_share, english.corpus_shares) == (0.2, None)
    shares = probe.variant(probe._arguments(base + ["--corpus-shares", SHARES])).world
    assert shares.corpus_shares == {"en": 0.2, "pt": 0.2, "es": 0.1, "fr": 0.1, "ja": 0.1, "zh": 0.1, "ar": 0.1, "ko": 0.1}
    with pytest.raises(SystemExit):
        probe._arguments(base + ["--english-share", "0.2", "--corpus-shares", SHARES])
    assert "not allowed with argument" in capsys.readouterr().err


def test_latin_letters_are_counted_in_the_answers_of_other_scripts_only() -> None:
    probe = _probe_module()
    rows = [
        {"lang": "ko", "output": "로마에서 2,200 personas."},  # 4 Hangul letters, 8 Latin: digits and dots not counted
        {"lang": "ko", "output": "약 3,000명이 모였습니다."},  # 8 Hangul letters
        {"lang": "ar", "output": "١٢٣ ..."},  # no letters at all
        {"lang": "es", "output": "Madrid celebró un concierto."},  # Latin-script languages are not measured
        {"lang": "zh", "output": "Paris"},
    ]
    assert probe.latin_letter_share(rows) == {"ar": 0.0, "ko": 0.4, "zh": 1.0}
