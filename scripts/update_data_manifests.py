"""Refresh data_manifests/ from a reproduction's work folder: the world manifest and the manifest
of every mixture the study's figures and tables train on (and of each part of a multi-task
mixture), at the same relative places as under results/work/.

    .venv/bin/clt-kit reproduce --all --data-only           # or a full reproduce
    .venv/bin/python scripts/update_data_manifests.py [--results results] [--scale mini] [--seed 0]
    .venv/bin/clt-kit verify data_manifests/                # checks the rebuild against them
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from clt_kit.layout import Layout
from clt_kit.pipeline import committed_manifests
from clt_kit.scales import get_scale

OUT = Path(__file__).resolve().parents[1] / "data_manifests"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--scale", default="mini")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    layout, scale = Layout(args.results), get_scale(args.scale)
    sources = [layout.work / name for name in committed_manifests(scale, args.seed)]
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        raise SystemExit(f"missing (run `clt-kit reproduce --all --data-only` first): {', '.join(missing)}")
    for stale in OUT.rglob("*.json"):
        stale.unlink()
    for source in sources:
        target = OUT / source.relative_to(layout.work)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        print(target.relative_to(OUT.parent))


if __name__ == "__main__":
    main()
