"""`clt-kit verify`: recompute every hash a manifest records, rebuild, and name what differs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from clt_kit.jsonio import InputError, read_json
from clt_kit.prep import core
from clt_kit.prep.mixture import MANIFEST_KIND, MixtureSpec, build_mixture


def find_manifests(path: Path) -> list[Path]:
    """`path` itself if it is a file, else every manifest.json below it (sorted)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or directory")
    return sorted(path.rglob("manifest.json"))


def _check_files(manifest_path: Path, entries: dict[str, dict[str, str]], what: str) -> list[str]:
    problems = []
    for role, entry in sorted(entries.items()):
        target = (manifest_path.parent / entry["path"]).resolve()
        if not target.exists():
            problems.append(f"{manifest_path}: {what} {role} {target} is missing")
            continue
        actual = core.sha256_file(str(target))
        if actual != entry["sha256"]:
            problems.append(f"{manifest_path}: {what} {role} {target} has sha256 {actual}, manifest says {entry['sha256']}")
    return problems


def verify_manifest(manifest_path: Path) -> list[str]:
    """Problems found with one mixture manifest (empty: verified)."""
    manifest: dict[str, Any] = read_json(manifest_path)
    if manifest.get("kind") != MANIFEST_KIND:
        return [f"{manifest_path}: not a clt-kit mixture manifest (kind={manifest.get('kind')!r})"]
    input_problems = _check_files(manifest_path, manifest["inputs"], "input")
    problems = input_problems + _check_files(manifest_path, manifest["outputs"], "output")
    if input_problems:
        return problems  # a rebuild from changed inputs proves nothing more
    spec_fields = dict(manifest["spec"], seen=tuple(manifest["spec"]["seen"]))
    spec = MixtureSpec(**spec_fields)
    inputs = manifest["inputs"]
    pool = (manifest_path.parent / inputs["pool"]["path"]).resolve()
    test = (manifest_path.parent / inputs["test"]["path"]).resolve() if "test" in inputs else None
    with tempfile.TemporaryDirectory(prefix="clt-verify-") as tmp:
        rebuilt = build_mixture(spec, pool, test, Path(tmp), lenient=manifest["lenient"])
    for key in ("normalization_profile", "counts", "set_fingerprint", "skipped"):
        if rebuilt[key] != manifest[key]:
            problems.append(f"{manifest_path}: rebuilt {key} differs: {rebuilt[key]!r} vs recorded {manifest[key]!r}")
    for role, entry in sorted(manifest["outputs"].items()):
        if rebuilt["outputs"][role]["sha256"] != entry["sha256"]:
            problems.append(
                f"{manifest_path}: rebuilt {role} has sha256 {rebuilt['outputs'][role]['sha256']}, recorded {entry['sha256']}"
            )
    return problems


def verify_path(path: Path) -> tuple[int, list[str]]:
    """(number of manifests checked, problems) for a manifest file or a folder of them."""
    manifests = find_manifests(path)
    problems: list[str] = []
    for m in manifests:
        problems += verify_manifest(m)
    return len(manifests), problems
