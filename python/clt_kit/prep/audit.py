"""Audit of a mixture against a world's ground truth: what prep removed and what it missed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from clt_kit.jsonio import read_json, read_jsonl

# Which drop reasons count as catching each injected fault.
CAUGHT_BY = {
    "exact_duplicate": {"exact_duplicate"},
    "near_duplicate": {"near_duplicate", "exact_duplicate"},
    "wrong_language": {"wrong_language"},
    "test_leak": {"test_exact", "test_near"},
}


def fault_recall(faults_path: Path, mixture_dir: Path) -> dict[str, Any]:
    """Per fault kind: injected (in the mixture's languages and task), caught, recall; plus clean drops.

    Broken records are checked against the manifest's skipped counts (they never reach a language).
    """
    manifest = read_json(mixture_dir / "manifest.json")
    task, langs = manifest["spec"]["task"], set(manifest["counts"])
    dropped = {d["id"]: d["reason"] for d in read_jsonl(mixture_dir / "dropped.jsonl")}
    faults = [f for f in (json.loads(line) for line in faults_path.read_text(encoding="utf-8").splitlines()) if f["task"] == task]
    report: dict[str, Any] = {}
    for kind, reasons in CAUGHT_BY.items():
        mine = [f for f in faults if f["fault"] == kind and f["lang"] in langs]
        caught = sum(dropped.get(f["id"]) in reasons for f in mine)
        report[kind] = {"injected": len(mine), "caught": caught, "recall": caught / len(mine) if mine else None}
    broken = sum(f["fault"] == "broken" for f in faults)
    skipped = sum(manifest["skipped"].values())
    report["broken"] = {"injected": broken, "caught": skipped, "recall": skipped / broken if broken else None}
    fault_ids = {f["id"] for f in faults}
    clean_drops = Counter(reason for i, reason in dropped.items() if i not in fault_ids)
    report["clean_items_dropped"] = dict(sorted(clean_drops.items()))
    return report
