"""The committed manifests of the study's data (data_manifests/: every mixture a figure or table
trains on, at mini scale, seed 0) match a rebuild on this machine, and `verify` names what differs
when the rebuild does not match."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clt_kit.layout import Layout
from clt_kit.pipeline import committed_manifests, plan_figure
from clt_kit.verify import verify_path
from clt_kit.scales import MINI

COMMITTED = Path(__file__).resolve().parents[1] / "data_manifests"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clt_kit.cli", *args], capture_output=True, text=True, timeout=900)


def test_the_committed_set_is_the_data_of_every_figure_and_table() -> None:
    expected = set(committed_manifests(MINI, 0))
    found = {str(p.relative_to(COMMITTED)) for p in COMMITTED.rglob("*.json")}
    assert found == expected
    assert {f"mixtures/mini-s0/{p.task}-k{p.k}/manifest.json" for p in plan_figure(2, MINI)} < found
    assert "mixtures/mini-s0/IF-latin-k50/manifest.json" in found and "mixtures/mini-s0/multi-k50/parts/MR/manifest.json" in found


@pytest.mark.slow
def test_a_rebuild_matches_the_committed_manifests_and_a_change_is_named(tmp_path: Path) -> None:
    done = _cli("reproduce", "--all", "--data-only", "--results", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    done = _cli("verify", str(COMMITTED), "--results", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    n = len(committed_manifests(MINI, 0))
    assert f"verified {n} manifest(s)" in done.stdout

    # One changed count in the user's rebuild: verify names the manifest and the field.
    rebuilt = Layout(tmp_path).mixture(MINI, 0, "MR", 100) / "manifest.json"
    manifest = json.loads(rebuilt.read_text())
    manifest["counts"]["en"]["kept"] += 1
    rebuilt.write_text(json.dumps(manifest))
    report = verify_path(COMMITTED, Layout(tmp_path).work)
    assert report.checked == n
    assert any("MR-k100" in p and "differs in counts" in p for p in report.problems), report.problems


def test_a_committed_manifest_without_a_rebuild_says_how_to_make_one(tmp_path: Path) -> None:
    report = verify_path(COMMITTED / "world-mini-s0" / "world.json", tmp_path)
    assert report.checked == 1 and "reproduce --all --data-only" in report.problems[0]
