"""`clt-kit verify`: recompute every hash a manifest records, rebuild, and name what differs.

Five kinds: a mixture (manifest.json), a joint mixture of several tasks (manifest.json of kind
"clt-kit joint mixture", above its parts' own mixture folders), a world (world.json), a base
model (base.json), a finished run (run.json, results/runs.py: its id, seal and files; the inputs
it records where they still are; its training is not run again, which is named as unchecked).
For each:
the folder must hold exactly the files its record names (none missing, none extra, each with its
recorded sha256, every file read and hashed in full: the stamp memory that spares a run's own
pre-flight check from reading unchanged files is never consulted here), every field that determines the output is compared with a rebuild from the
recorded inputs and parameters, and a field that cannot be checked is reported as unchecked,
never passed in silence. A manifest that cannot be read or checked at all is one named problem,
and the other manifests are still checked.

This module stands above the stages it checks (world, prep, train) and imports each of them;
none of them imports it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clt_kit.integrity import check_files
from clt_kit.jsonio import InputError, read_json
from clt_kit.prep import core
from clt_kit.prep.clean import CleanParams
from clt_kit.prep.joint import JOINT_FORMAT, JointSpec, is_joint, joint_of_parts
from clt_kit.prep.mixture import DROPPED, MANIFEST, MANIFEST_FORMAT, MANIFEST_KIND, MIXTURE, MixtureSpec, build_mixture, output_files

# How `clt-kit verify` prefixes each problem and each unchecked field it prints.
PROBLEM = "problem: "
UNCHECKED = "unchecked: "
WORLD_RECORD, BASE_RECORD, RUN_RECORD = "world.json", "base.json", "run.json"


@dataclass
class Report:
    """What verify found: how many manifests it checked, the problems, the fields it could not check."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    def add(self, other: Report) -> None:
        self.problems += other.problems
        self.unchecked += other.unchecked


def find_manifests(path: Path) -> list[Path]:
    """`path` itself if it is a file, else every mixture manifest.json, world.json, base model's
    base.json and finished run's run.json below it (sorted)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or directory")
    return sorted([*path.rglob(MANIFEST), *path.rglob(WORLD_RECORD), *path.rglob(BASE_RECORD), *path.rglob(RUN_RECORD)])


def _read_record(path: Path) -> dict[str, Any]:
    record = read_json(path)
    if not isinstance(record, dict):
        kind = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(record), "null")
        raise InputError(f"{path}: a manifest must be a JSON object, this one is a JSON {kind}")
    return record


def verify_world(manifest_path: Path, manifest: dict[str, Any]) -> Report:
    """A world: its folder's files against the record, the scale's settings it was made with, then
    a regeneration from its seed and scale."""
    from clt_kit.scales import get_scale
    from clt_kit.world import generate_world
    from clt_kit.world.generate import WORLD_FORMAT, world_settings

    if manifest.get("format") != WORLD_FORMAT:
        return Report(problems=[f"{manifest_path}: world format {manifest.get('format')!r}, but this kit makes format {WORLD_FORMAT};"
                                " make it again with `clt-kit world`"])
    report = Report(problems=check_files(manifest_path.parent, manifest["files"], "world", WORLD_RECORD, remembered=False))
    scale = get_scale(manifest["scale"])
    world_config, _ = scale.generated()
    recorded, current = manifest.get("settings"), world_settings(world_config)
    if recorded != current:
        changed = [k for k in current if (recorded or {}).get(k) != current[k]]
        report.problems.append(
            f"{manifest_path}: made with other settings of scale {scale.name!r} than this kit's ({', '.join(changed)} differ);"
            f" make it again with `clt-kit world --scale {scale.name} --seed {manifest['seed']} --out DIR`"
        )
    with tempfile.TemporaryDirectory(prefix="clt-verify-") as tmp:
        again = generate_world(Path(tmp) / "w", manifest["seed"], world_config, scale.name, tuple(manifest["languages"]))
        regenerated = read_json(again.manifest)
    for name, sha in sorted(manifest["files"].items()):
        if regenerated["files"].get(name) != sha:
            report.problems.append(f"{manifest_path}: regenerating the world gives {name} sha256 {regenerated['files'].get(name)}, recorded {sha}")
    for key in sorted(set(regenerated) | set(manifest)):
        if key not in ("files", "settings") and regenerated.get(key) != manifest.get(key):
            report.problems.append(f"{manifest_path}: regenerated {key} differs: {_short(regenerated.get(key))} vs recorded {_short(manifest.get(key))}")
    return report


def verify_base(manifest_path: Path, manifest: dict[str, Any]) -> Report:
    """A base model: every file of its folder against base.json, its weights' hash, then a
    pretraining from scratch (same world, seed and settings) that must give the same weights bit
    for bit.

    Bit for bit holds on the same kind of CPU (train/model.py, cpu_kind): a base recorded on this
    machine's vendor with lower torch kernels is rebuilt in a child process pinned to them
    (ATEN_CPU_CAPABILITY); one recorded on another kind is reported, without pretraining."""
    from clt_kit.train.model import cpu_kind

    report = Report()
    if "files" in manifest:
        report.problems += check_files(manifest_path.parent, manifest["files"], "base model", BASE_RECORD, remembered=False)
    else:
        report.unchecked.append(f"{manifest_path}: files: base.json records no file hashes (made by an earlier kit), so only the weights are checked")
    if report.problems:
        return report  # a rebuild or a load of changed files proves nothing more
    recorded, here = recorded_kind(manifest), cpu_kind()
    mode = rebuild_mode(recorded, here)
    if mode == "pinned":
        if PIN in os.environ:  # a pinned child whose torch did not take the pin
            report.problems.append(f"{manifest_path}: torch ignored {PIN}={os.environ[PIN]} and runs its {here['cpu_capability']} kernels")
        else:
            report.add(_rebuild_base_pinned(manifest_path, recorded["cpu_capability"]))
        return report
    report.problems += _weights_problems(manifest_path, manifest)
    if mode == "here":
        report.problems += _rebuild_problems(manifest_path, manifest)
    else:
        report.unchecked.append(
            f"{manifest_path}: not rebuilt: it was pretrained on {describe_kind(recorded)} and this machine is "
            f"{describe_kind(here)}, which sums floats in another order (torch's kernels, MKL's code paths), so a rebuild "
            f"here is not expected to match bit for bit; verify it on {describe_kind(recorded)}, or compare anyway with `clt-kit pretrain --from-scratch`"
        )
    return report


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
        world_config, pretrain = scale.generated()
        world = generate_world(Path(tmp) / "world", seed, world_config, scale.name)
        rebuilt = ensure_base_model(ModelSize(**key["size"]), world, pretrain, seed, Path(tmp) / "models", from_scratch=True)
        again = read_json(rebuilt / BASE_RECORD)
    if again["key"] != key:
        return [f"{manifest_path}: this kit would pretrain it under another key ({rebuilt.name}); it is stale"]
    if again["weights_sha256"] != manifest["weights_sha256"]:
        return [f"{manifest_path}: pretraining again gives weights {again['weights_sha256']}, recorded {manifest['weights_sha256']}"]
    # The rest of the record (losses, corpus lines, kind of CPU, file hashes) as the rebuild gives it
    # (a record from before file hashes has none to compare).
    return [
        f"{manifest_path}: pretraining again gives {key} {_short(again.get(key))}, recorded {_short(manifest.get(key))}"
        for key in sorted(set(again) | set(manifest)) if again.get(key) != manifest.get(key) and (key != "files" or key in manifest)
    ]


def _rebuild_base_pinned(manifest_path: Path, capability: str) -> Report:
    """verify in a child process whose torch uses `capability`; its findings are this one's."""
    env = {**os.environ, PIN: capability.lower()}
    child = subprocess.run(
        [sys.executable, "-m", "clt_kit.cli", "verify", str(manifest_path)], env=env, capture_output=True, text=True, check=False
    )
    lines = (child.stdout + child.stderr).splitlines()
    report = Report(
        problems=[line.removeprefix(PROBLEM) for line in lines if line.startswith(PROBLEM)],
        unchecked=[line.removeprefix(UNCHECKED) for line in lines if line.startswith(UNCHECKED)],
    )
    if child.returncode != 0 and not report.problems:
        report.problems.append(f"{manifest_path}: verify pinned to {capability} failed: {child.stderr.strip()[-2000:]}")
    return report


def _check_file(manifest_path: Path, entry: dict[str, str], what: str) -> list[str]:
    target = (manifest_path.parent / entry["path"]).resolve()
    if not target.is_file():
        return [f"{manifest_path}: {what} {target} is missing"]
    actual = core.sha256_file(str(target))
    if actual != entry["sha256"]:
        return [f"{manifest_path}: {what} {target} has sha256 {actual}, manifest says {entry['sha256']}"]
    return []


# Every field of a mixture manifest, and how verify checks it: by the hashes of the inputs and
# outputs, or by comparison with a rebuild from the recorded inputs, spec and parameters (the
# rebuild takes spec, parameters and lenient from the record, so those are checked by whether
# they reproduce the outputs, counts and fingerprints).
HASHED_KEYS = ("inputs", "outputs")
REBUILT_KEYS = (
    "kind", "format", "kit_version", "prep_core_version", "normalization_profile", "language_id_model", "spec",
    "parameters", "lenient", "skipped", "input_fingerprint", "counts", "records", "stats", "set_fingerprint",
)


def verify_mixture(manifest_path: Path, manifest: dict[str, Any]) -> Report:
    """A mixture: its folder holds exactly the manifest and its outputs, every input and output
    has its recorded hash, and a rebuild reproduces every other field."""
    if manifest.get("format") != MANIFEST_FORMAT:
        return Report(problems=[f"{manifest_path}: manifest format {manifest.get('format')!r} but this kit reads {MANIFEST_FORMAT}; rebuild it with `clt-kit prep`"])
    if unknown := sorted(set(manifest) - set(HASHED_KEYS) - set(REBUILT_KEYS)):
        return Report(problems=[f"{manifest_path}: fields this kit does not write: {', '.join(unknown)}; the manifest was edited or comes from another tool"])
    report = Report()
    outputs = manifest["outputs"]
    recorded_files = {e["path"]: e["sha256"] for e in outputs.values()}
    if set(recorded_files) != {MIXTURE, DROPPED}:
        report.problems.append(f"{manifest_path}: outputs name {sorted(recorded_files)}; a mixture's are {MIXTURE} and {DROPPED}")
    report.problems += check_files(manifest_path.parent, recorded_files, "mixture", MANIFEST, remembered=False)
    inputs = manifest["inputs"]
    input_problems = [p for e in inputs["pool"] for p in _check_file(manifest_path, e, "input pool")]
    if "test" in inputs:
        input_problems += _check_file(manifest_path, inputs["test"], "input test")
    report.problems += input_problems
    spec = MixtureSpec(**dict(manifest["spec"], seen=tuple(manifest["spec"]["seen"])))
    params = CleanParams.from_dict(manifest["parameters"]["clean"])
    if bad := params.problems():
        report.problems.append(f"{manifest_path}: parameters out of range: {'; '.join(bad)}")
    if input_problems or bad:
        return report  # a rebuild from changed inputs or impossible parameters proves nothing more
    pool = [(manifest_path.parent / e["path"]).resolve() for e in inputs["pool"]]
    test = (manifest_path.parent / inputs["test"]["path"]).resolve() if "test" in inputs else None
    with tempfile.TemporaryDirectory(prefix="clt-verify-") as tmp:
        try:
            rebuilt = build_mixture(spec, pool, test, Path(tmp) / "m", lenient=manifest["lenient"], params=params)
        except InputError as e:
            report.problems.append(f"{manifest_path}: rebuilding it from the recorded inputs and parameters fails: {e}")
            return report
    for key in REBUILT_KEYS:
        if rebuilt.get(key) != manifest.get(key):
            report.problems.append(f"{manifest_path}: rebuilt {key} differs: {_short(rebuilt.get(key))} vs recorded {_short(manifest.get(key))}")
    for role, entry in sorted(outputs.items()):
        if rebuilt["outputs"].get(role, {}).get("sha256") != entry["sha256"]:
            report.problems.append(
                f"{manifest_path}: rebuilt {role} has sha256 {rebuilt['outputs'].get(role, {}).get('sha256')}, recorded {entry['sha256']}"
            )
    if n := rebuilt["records"]["without_task"]:
        report.unchecked.append(f"{manifest_path}: spec.task: {n} of the pool's records name no task, so they are not checked to be {spec.task} records")
    return report


def verify_joint(manifest_path: Path, manifest: dict[str, Any]) -> Report:
    """A joint (multi-task) mixture: its folder holds exactly the files it records, and joining
    its parts again gives every field it records. Each part is a mixture folder of its own below
    it, which verify finds and rebuilds like any other."""
    if manifest.get("format") != JOINT_FORMAT:
        return Report(problems=[f"{manifest_path}: joint mixture format {manifest.get('format')!r}, but this kit writes {JOINT_FORMAT};"
                                " make it again with `clt-kit reproduce --data-only`"])
    if problems := check_files(manifest_path.parent, output_files(manifest), "joint mixture", MANIFEST, remembered=False):
        return Report(problems=problems)
    again, _ = joint_of_parts(JointSpec.from_dict(manifest["spec"]), manifest_path.parent)
    return Report(problems=[
        f"{manifest_path}: joining its parts again gives {key} {_short(again.get(key))}, recorded {_short(manifest.get(key))}"
        for key in sorted(set(again) | set(manifest)) if again.get(key) != manifest.get(key)
    ])


def verify_run(record_path: Path, stored: dict[str, Any]) -> Report:
    """A finished run folder: everything `ingest` checks (results/runs.py, every file hashed in
    full), then each input it records that is still where it was read (the mixture's manifest, the
    base model's files, the test sets) against the hashes it records."""
    from clt_kit.results.runs import run_problems

    report = Report(problems=run_problems(record_path.parent, remembered=False))
    if report.problems:
        return report
    inputs = stored["run"].get("inputs", {})
    mixture = Path(inputs.get("mixture", {}).get("path", "")) / MANIFEST
    checks = [(mixture, stored["manifest_sha256"])] if inputs.get("mixture") else []
    tests = inputs.get("tests") or ({"": inputs["test"]} if "test" in inputs else {})
    checks += [(Path(t["path"]), t["sha256"]) for _, t in sorted(tests.items())]
    base = inputs.get("base", {})
    checks += [(Path(base["path"]) / name, sha) for name, sha in sorted(base.get("files", {}).items())]
    for path, sha in checks:
        if not path.is_file():
            report.unchecked.append(f"{record_path}: inputs: {path} is no longer there, so it is not compared with the sha256 the run records")
        elif (actual := core.sha256_file(str(path))) != sha:
            report.problems.append(f"{record_path}: the run read {path} with sha256 {sha}; it now has {actual}")
    report.unchecked.append(f"{record_path}: outcome: the weights and scores it records are sealed, not reproduced (that takes training it again)")
    return report


def verify_manifest(manifest_path: Path) -> Report:
    """What verify finds in one manifest, of a mixture, a world, a base model or a finished run. Any failure to
    read or check it (a damaged file, a field of the wrong type) is one problem naming it."""
    try:
        manifest = _read_record(manifest_path)
        if manifest_path.name == RUN_RECORD and "run" in manifest:
            return verify_run(manifest_path, manifest)
        if manifest.get("kind") == "clt-kit world":
            return verify_world(manifest_path, manifest)
        if isinstance(manifest.get("key"), dict) and manifest["key"].get("kind") == "base-model":
            return verify_base(manifest_path, manifest)
        if is_joint(manifest):
            return verify_joint(manifest_path, manifest)
        if manifest.get("kind") != MANIFEST_KIND:
            return Report(problems=[f"{manifest_path}: not a clt-kit manifest (kind={manifest.get('kind')!r})"])
        return verify_mixture(manifest_path, manifest)
    except InputError as e:
        return Report(problems=[str(e) if str(manifest_path) in str(e) else f"{manifest_path}: {e}"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return Report(problems=[f"{manifest_path}: malformed manifest ({type(e).__name__}: {e}); rebuild it or restore it from its source"])
    except Exception as e:  # noqa: BLE001 - e.g. a damaged safetensors file: one named problem, not a traceback
        return Report(problems=[f"{manifest_path}: cannot be checked: {type(e).__name__}: {str(e)[:300]}"])


def _recorded_files(manifest: Any) -> list[str]:
    if not isinstance(manifest, dict) or "key" in manifest:  # a base model: its files are its folder
        return []
    if manifest.get("kind") == "clt-kit world":
        return sorted(manifest.get("files", {}))
    # (a joint mixture's outputs name its parts' manifests, which are kept beside it: only data counts)
    return [e["path"] for _, e in sorted(manifest.get("outputs", {}).items())
            if isinstance(e, dict) and "path" in e and Path(e["path"]).name != MANIFEST]


def is_committed_copy(manifest_path: Path) -> bool:
    """A manifest kept without its data (data_manifests/): none of the files it records are beside it."""
    try:
        files = _recorded_files(read_json(manifest_path))
    except (InputError, AttributeError, TypeError, KeyError):
        return False  # not a readable manifest: verify_manifest names the problem
    return bool(files) and not any((manifest_path.parent / f).exists() for f in files)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def verify_against(committed: Path, rebuild: Path) -> Report:
    """A user's rebuild (a manifest beside its data) against a committed manifest: every key that
    differs, then the rebuild's own check (hashes and a second rebuild)."""
    if not rebuild.exists():
        return Report(problems=[f"{committed}: no rebuild at {rebuild}; make one with `clt-kit reproduce --all --data-only`"
                                " (same --scale and --seed) or pass --results"])
    try:
        ours, theirs = _read_record(rebuild), _read_record(committed)
    except InputError as e:
        return Report(problems=[str(e)])
    report = Report(problems=[
        f"{committed}: the rebuild {rebuild} differs in {key}: {_short(ours.get(key))} vs committed {_short(theirs.get(key))}"
        for key in sorted(set(ours) | set(theirs)) if ours.get(key) != theirs.get(key)
    ])
    report.add(verify_manifest(rebuild))
    return report


def verify_path(path: Path, rebuild_root: Path | None = None) -> Report:
    """What verify finds in a manifest file or a folder of them.

    A committed copy (see is_committed_copy) is checked against the rebuild at the same relative
    place under `rebuild_root` (a results folder's work/); a manifest beside its data is checked
    by itself."""
    manifests = find_manifests(path)
    root = path if path.is_dir() else path.parent
    report = Report(checked=len(manifests))
    for m in manifests:
        if not is_committed_copy(m):
            report.add(verify_manifest(m))
        elif rebuild_root is None:
            report.problems.append(f"{m}: a manifest without its data; say where the rebuild is (--results)")
        else:
            report.add(verify_against(m, rebuild_root / m.relative_to(root)))
    return report
