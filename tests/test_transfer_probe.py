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
        assert run["model"]["layers"] == 2 and run["world"]["corpus_item_format"] == "chat"
        assert run["world"]["corpus_shares"] == {"en": 0.2, "pt": 0.2, "es": 0.1, "fr": 0.1, "ja": 0.1, "zh": 0.1, "ar": 0.1, "ko": 0.1}
    assert ASSISTANT in (tmp_path / "world" / "corpus.jsonl").read_text()
    assert done.stdout.count("SM k=") == 2 and "pretrain 7b" in done.stderr
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
