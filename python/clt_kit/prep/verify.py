"""`clt-kit verify`: recompute every hash a manifest records, rebuild, and name what differs.

Three kinds: a mixture (manifest.json), a world (world.json), a base model (base.json)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from clt_kit.jsonio import InputError, read_json
from clt_kit.prep import core
from clt_kit.prep.clean import CleanParams
from clt_kit.prep.mixture import MANIFEST_FORMAT, MANIFEST_KIND, MixtureSpec, build_mixture

# How `clt-kit verify` prefixes each problem it prints.
PROBLEM = "problem: "

# What a rebuild must reproduce exactly (inputs are checked by hash, outputs by hash too).
REBUILT_KEYS = ("normalization_profile", "language_id_model", "counts", "stats", "set_fingerprint", "skipped", "input_fingerprint")


def find_manifests(path: Path) -> list[Path]:
    """`path` itself if it is a file, else every mixture manifest.json, world.json and base model's
    base.json below it (sorted)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or directory")
    return sorted([*path.rglob("manifest.json"), *path.rglob("world.json"), *path.rglob("base.json")])


def verify_world(manifest_path: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems with a world: file hashes, the scale's settings it was made with, then a
    regeneration from its seed and scale."""
    from clt_kit.scales import get_scale
    from clt_kit.world import generate_world
    from clt_kit.world.generate import world_settings

    problems = [
        p for name, sha in sorted(manifest["files"].items())
        for p in _check_file(manifest_path, {"path": name, "sha256": sha}, "world file")
    ]
    scale = get_scale(manifest["scale"])
    recorded, current = manifest.get("settings"), world_settings(scale)
    if recorded != current:
        changed = [k for k in current if (recorded or {}).get(k) != current[k]]
        problems.append(
            f"{manifest_path}: made with other settings of scale {scale.name!r} than this kit's ({', '.join(changed)} differ);"
            f" make it again with `clt-kit world --scale {scale.name} --seed {manifest['seed']} --out DIR`"
        )
    with tempfile.TemporaryDirectory(prefix="clt-verify-") as tmp:
        again = generate_world(Path(tmp) / "w", manifest["seed"], scale, tuple(manifest["languages"]))
        regenerated = read_json(again.manifest)["files"]
    for name, sha in sorted(manifest["files"].items()):
        if regenerated.get(name) != sha:
            problems.append(f"{manifest_path}: regenerating the world gives {name} sha256 {regenerated.get(name)}, recorded {sha}")
    return problems


def verify_base(manifest_path: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems with a base model: its weights' hash, then a pretraining from scratch (same world,
    seed and settings) that must give the same weights bit for bit.

    Bit for bit holds on the same kind of CPU (train/model.py, cpu_kind): a base recorded on this
    machine's vendor with lower torch kernels is rebuilt in a child process pinned to them
    (ATEN_CPU_CAPABILITY); one recorded on another kind is reported, without pretraining."""
    from clt_kit.train.model import cpu_kind

    recorded, here = recorded_kind(manifest), cpu_kind()
    mode = rebuild_mode(recorded, here)
    if mode == "pinned":
        if PIN in os.environ:  # a pinned child whose torch did not take the pin
            return [f"{manifest_path}: torch ignored {PIN}={os.environ[PIN]} and runs its {here['cpu_capability']} kernels"]
        return _rebuild_base_pinned(manifest_path, recorded["cpu_capability"])
    problems = _weights_problems(manifest_path, manifest)
    if mode == "here":
        return problems + _rebuild_problems(manifest_path, manifest)
    return problems + [
        f"{manifest_path}: not rebuilt: it was pretrained on {describe_kind(recorded)} and this machine is "
        f"{describe_kind(here)}, which sums floats in another order (torch's kernels, MKL's code paths), so a rebuild "
        f"here is not expected to match bit for bit; verify it on {describe_kind(recorded)}, or compare anyway with `clt-kit pretrain --from-scratch`"
    ]


# torch's x86 CPU capabilities, lowest first: a machine can pin torch to any one up to its own,
# by setting PIN before torch starts.
X86_CAPABILITIES = ("DEFAULT", "AVX2", "AVX512")
PIN = "ATEN_CPU_CAPABILITY"


def recorded_kind(manifest: dict[str, Any]) -> dict[str, str | None]:
    """The kind of CPU a base.json says its model was pretrained on (None where it does not say)."""
    flags = manifest.get("determinism", {})
    return {"cpu_vendor": flags.get("cpu_vendor"), "cpu_capability": flags.get("cpu_capability")}


def rebuild_mode(recorded: dict[str, str | None], here: dict[str, str]) -> str | None:
    """How this machine can rebuild a base model recorded on CPU kind `recorded` bit for bit:
    "here" (the same kind, or an old record without one), "pinned" (the same vendor, with torch
    pinned to the recorded lower kernels), or None (it cannot)."""
    if None in recorded.values() or recorded == here:
        return "here"
    cap, own = recorded["cpu_capability"], here["cpu_capability"]
    if recorded["cpu_vendor"] == here["cpu_vendor"] and cap in X86_CAPABILITIES and own in X86_CAPABILITIES \
            and X86_CAPABILITIES.index(cap) < X86_CAPABILITIES.index(own):
        return "pinned"
    return None


def describe_kind(kind: dict[str, Any]) -> str:
    """"GenuineIntel with torch's AVX512 kernels"."""
    return f"{kind['cpu_vendor']} with torch's {kind['cpu_capability']} kernels"


def compare_with_bundled(pretrained: dict[str, Any], bundled: dict[str, Any]) -> str:
    """How a base model pretrained here (its base.json) compares with the package's copy: the
    same weights, or different ones with the reason when the two were built on other kinds of CPU."""
    if pretrained["weights_sha256"] == bundled["weights_sha256"]:
        return "identical, bit for bit"
    ours, theirs = recorded_kind(pretrained), recorded_kind(bundled)
    if None in theirs.values() or ours == theirs:
        return f"DIFFERS: weights {pretrained['weights_sha256']}, the package's {bundled['weights_sha256']}, on the same kind of CPU"
    return (
        f"other weights ({pretrained['weights_sha256'][:12]}..., the package's {bundled['weights_sha256'][:12]}...), as expected: "
        f"the package's copy was pretrained on {describe_kind(theirs)}, this one on {describe_kind(ours)}, "
        f"which sums floats in another order; `clt-kit verify` on {describe_kind(theirs)} rebuilds it bit for bit"
    )


def _weights_problems(manifest_path: Path, manifest: dict[str, Any]) -> list[str]:
    from clt_kit.train.pretrain import stored_weights_hash

    actual = stored_weights_hash(manifest_path.parent)
    if actual != manifest["weights_sha256"]:
        return [f"{manifest_path}: the weights hash to {actual}, base.json records {manifest['weights_sha256']}"]
    return []


def _rebuild_problems(manifest_path: Path, manifest: dict[str, Any]) -> list[str]:
    from clt_kit.scales import ModelSize, get_scale
    from clt_kit.train.pretrain import ensure_base_model
    from clt_kit.world import generate_world

    key = manifest["key"]
    scale, seed = get_scale(key["world"]["scale"]), key["world"]["seed"]
    with tempfile.TemporaryDirectory(prefix="clt-verify-") as tmp:
        world = generate_world(Path(tmp) / "world", seed, scale)
        rebuilt = ensure_base_model(ModelSize(**key["size"]), world, scale, seed, Path(tmp) / "models", from_scratch=True)
        again = read_json(rebuilt / "base.json")
    if again["key"] != key:
        return [f"{manifest_path}: this kit would pretrain it under another key ({rebuilt.name}); it is stale"]
    if again["weights_sha256"] != manifest["weights_sha256"]:
        return [f"{manifest_path}: pretraining again gives weights {again['weights_sha256']}, recorded {manifest['weights_sha256']}"]
    return []


def _rebuild_base_pinned(manifest_path: Path, capability: str) -> list[str]:
    """verify in a child process whose torch uses `capability`; its problems are this one's."""
    env = {**os.environ, PIN: capability.lower()}
    child = subprocess.run(
        [sys.executable, "-m", "clt_kit.cli", "verify", str(manifest_path)], env=env, capture_output=True, text=True, check=False
    )
    problems = [line.removeprefix(PROBLEM) for line in child.stderr.splitlines() if line.startswith(PROBLEM)]
    if child.returncode != 0 and not problems:
        problems.append(f"{manifest_path}: verify pinned to {capability} failed: {child.stderr.strip()[-2000:]}")
    return problems


def _check_file(manifest_path: Path, entry: dict[str, str], what: str) -> list[str]:
    target = (manifest_path.parent / entry["path"]).resolve()
    if not target.exists():
        return [f"{manifest_path}: {what} {target} is missing"]
    actual = core.sha256_file(str(target))
    if actual != entry["sha256"]:
        return [f"{manifest_path}: {what} {target} has sha256 {actual}, manifest says {entry['sha256']}"]
    return []


def _clean_params(d: dict[str, Any]) -> CleanParams:
    return CleanParams(
        near=core.NearDupParams(**d["near"]), langid=core.LangIdFloors(**d["langid"]), language_filter=d["language_filter"]
    )


def verify_manifest(manifest_path: Path) -> list[str]:
    """Problems found with one manifest, of a mixture or of a world (empty: verified)."""
    manifest: dict[str, Any] = read_json(manifest_path)
    if manifest.get("kind") == "clt-kit world":
        return verify_world(manifest_path, manifest)
    if manifest.get("key", {}).get("kind") == "base-model":
        return verify_base(manifest_path, manifest)
    if manifest.get("kind") != MANIFEST_KIND:
        return [f"{manifest_path}: not a clt-kit mixture manifest (kind={manifest.get('kind')!r})"]
    if manifest.get("format") != MANIFEST_FORMAT:
        return [f"{manifest_path}: manifest format {manifest.get('format')} but this kit reads {MANIFEST_FORMAT}; rebuild it"]
    inputs = manifest["inputs"]
    input_problems = [p for e in inputs["pool"] for p in _check_file(manifest_path, e, "input pool")]
    if "test" in inputs:
        input_problems += _check_file(manifest_path, inputs["test"], "input test")
    problems = input_problems + [
        p for role, e in sorted(manifest["outputs"].items()) for p in _check_file(manifest_path, e, f"output {role}")
    ]
    if input_problems:
        return problems  # a rebuild from changed inputs proves nothing more
    spec = MixtureSpec(**dict(manifest["spec"], seen=tuple(manifest["spec"]["seen"])))
    pool = [(manifest_path.parent / e["path"]).resolve() for e in inputs["pool"]]
    test = (manifest_path.parent / inputs["test"]["path"]).resolve() if "test" in inputs else None
    with tempfile.TemporaryDirectory(prefix="clt-verify-") as tmp:
        rebuilt = build_mixture(
            spec, pool, test, Path(tmp), lenient=manifest["lenient"], params=_clean_params(manifest["parameters"]["clean"])
        )
    for key in REBUILT_KEYS:
        if rebuilt[key] != manifest[key]:
            problems.append(f"{manifest_path}: rebuilt {key} differs: {rebuilt[key]!r} vs recorded {manifest[key]!r}")
    for role, entry in sorted(manifest["outputs"].items()):
        if rebuilt["outputs"][role]["sha256"] != entry["sha256"]:
            problems.append(
                f"{manifest_path}: rebuilt {role} has sha256 {rebuilt['outputs'][role]['sha256']}, recorded {entry['sha256']}"
            )
    return problems


def _recorded_files(manifest: dict[str, Any]) -> list[str]:
    if "key" in manifest:  # a base model: its files are its folder
        return []
    if manifest.get("kind") == "clt-kit world":
        return sorted(manifest.get("files", {}))
    return [e["path"] for _, e in sorted(manifest.get("outputs", {}).items())]


def is_committed_copy(manifest_path: Path) -> bool:
    """A manifest kept without its data (data_manifests/): none of the files it records are beside it."""
    files = _recorded_files(read_json(manifest_path))
    return bool(files) and not any((manifest_path.parent / f).exists() for f in files)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def verify_against(committed: Path, rebuild: Path) -> list[str]:
    """Problems with a user's rebuild (a manifest beside its data) against a committed manifest:
    every key that differs, then the rebuild's own check (hashes and a second rebuild)."""
    if not rebuild.exists():
        return [f"{committed}: no rebuild at {rebuild}; make one with `clt-kit reproduce --figure 2 --data-only`"
                " (same --scale and --seed) or pass --results"]
    ours, theirs = read_json(rebuild), read_json(committed)
    problems = [
        f"{committed}: the rebuild {rebuild} differs in {key}: {_short(ours.get(key))} vs committed {_short(theirs.get(key))}"
        for key in sorted(set(ours) | set(theirs)) if ours.get(key) != theirs.get(key)
    ]
    return problems + verify_manifest(rebuild)


def verify_path(path: Path, rebuild_root: Path | None = None) -> tuple[int, list[str]]:
    """(number of manifests checked, problems) for a manifest file or a folder of them.

    A committed copy (see is_committed_copy) is checked against the rebuild at the same relative
    place under `rebuild_root` (a results folder's work/); a manifest beside its data is checked
    by itself."""
    manifests = find_manifests(path)
    root = path if path.is_dir() else path.parent
    problems: list[str] = []
    for m in manifests:
        if not is_committed_copy(m):
            problems += verify_manifest(m)
        elif rebuild_root is None:
            problems.append(f"{m}: a manifest without its data; say where the rebuild is (--results)")
        else:
            problems += verify_against(m, rebuild_root / m.relative_to(root))
    return len(manifests), problems
