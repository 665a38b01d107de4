"""The Python side of prep: bulk calls into Rust, mixtures, manifests and `verify`."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clt_kit import _prep
from clt_kit.jsonio import InputError, write_jsonl
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.verify import Report, verify_path
from clt_kit.prep import core
from clt_kit.prep.records import read_records

TEXTS = st.lists(st.sampled_from(["Hello world", "HELLO  world", "日本語", "日本語 ", "مرحبا", "ＡＢＣ", "abc", "x"]), min_size=1, max_size=40)


@given(TEXTS, st.randoms(use_true_random=False))
@settings(max_examples=50, deadline=None)
def test_dedup_survivors_do_not_depend_on_order(texts: list[str], rnd) -> None:
    keys = [f"id-{i:03d}" for i in range(len(texts))]
    survivor, _ = core.exact_dedup(texts, keys)
    order = list(range(len(texts)))
    rnd.shuffle(order)
    survivor2, _ = core.exact_dedup([texts[i] for i in order], [keys[i] for i in order])
    for pos, i in enumerate(order):
        assert keys[survivor[i]] == keys[order[survivor2[pos]]]


def test_dedup_uses_the_normalization_profile() -> None:
    survivor, hashes = core.exact_dedup(["Ｈｅｌｌｏ  World", "hello world", "が", "か"], ["b", "a", "c", "d"])
    assert list(survivor) == [1, 1, 2, 3]
    assert _prep.NORMALIZATION_PROFILE == "nfkc-casefold-ws/v1"
    assert hashes.shape == (4, 16)


@given(TEXTS)
@settings(max_examples=30, deadline=None)
def test_a_normalized_column_is_each_text_normalized(texts: list[str]) -> None:
    col = core.normalized(texts)
    assert col.normalized and core.normalized(col) is col
    offsets = np.frombuffer(col.offsets, dtype="<i8")
    rows = [col.data[a:b].decode() for a, b in zip(offsets[:-1], offsets[1:])]
    assert rows == [_prep.normalize_text(t) for t in texts]
    keys = [f"k{i}" for i in range(len(texts))]
    # Dedup of the normalized column (what clean() passes, once, to both stages) equals dedup of the texts.
    assert np.array_equal(core.exact_dedup(col, keys)[0], core.exact_dedup(texts, keys)[0])


def test_language_id_of_chosen_rows_equals_that_of_the_subset() -> None:
    texts = ["The children are playing outside today.", "Los niños juegan en la calle hoy.", "我们明天去北京。", "ok"]
    rows = [3, 1, 1, 0]
    picked, conf = core.identify_languages(core.column(texts), rows=rows)
    alone, conf_alone = core.identify_languages([texts[i] for i in rows])
    assert picked == alone == ["und", "es", "es", "en"]
    assert np.array_equal(conf, conf_alone)
    assert core.identify_languages(texts, rows=[])[0] == []
    with pytest.raises(ValueError, match="row 4 is out of range"):
        core.identify_languages(texts, rows=[4])


def test_settings_cross_into_rust_by_name_with_the_cores_defaults() -> None:
    from clt_kit.cli import prep

    # The defaults are declared once, in the Rust core; the Python records and the CLI read them.
    near, floors = _prep.NearDupOptions(), _prep.LangIdOptions()
    assert asdict(core.NearDupParams()) == {name: getattr(near, name) for name in asdict(core.NearDupParams())}
    assert asdict(core.LangIdFloors()) == {name: getattr(floors, name) for name in asdict(core.LangIdFloors())}
    cli = {p.name: p.default for p in prep.params}
    assert (cli["num_perm"], cli["bands"], cli["rows"], cli["minhash_seed"], cli["word_ngram"], cli["char_ngram"], cli["threshold"]) \
        == (near.num_perm, near.bands, near.rows, near.seed, near.word_n, near.char_n, near.threshold)
    assert core.NearDupParams(word_n=2, char_n=4).options() == _prep.NearDupOptions(word_n=2, char_n=4) != near
    # Settings are named: positional ones (where swapping two would go unnoticed) are refused.
    col = core.column(["a b c d"])
    one = (np.zeros(1, dtype="<u4").tobytes(), np.ones(1, dtype=np.uint8).tobytes())
    with pytest.raises(TypeError):
        _prep.near_dedup(col.data, col.offsets, col.data, col.offsets, *one, near)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _prep.NearDupOptions(128, 16)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        core.NearDupParams(128, 16)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _prep.minhash_signatures(col.data, col.offsets, 128, 42, 3, 5)  # type: ignore[call-arg]
    survivor, candidates, accepted = _prep.near_dedup(col.data, col.offsets, col.data, col.offsets, *one, options=near)
    assert (np.frombuffer(survivor, dtype="<u4").tolist(), candidates, accepted) == ([0], 0, 0)
    # Settings that do not fit together are refused where they are made.
    with pytest.raises(ValueError, match="exceeds num_perm"):
        _prep.NearDupOptions(bands=20, rows=7)
    with pytest.raises(ValueError, match="n-gram sizes must be positive"):
        core.NearDupParams(char_n=0).options()
    with pytest.raises(ValueError, match="min_confidence 1.5"):
        _prep.LangIdOptions(min_confidence=1.5)


def test_minhash_signatures_do_not_depend_on_threads() -> None:
    texts = [f"document number {i} about apples and pears 日本語のテキスト{i}" for i in range(300)] + [""]
    data = core._buffers(texts)
    one = _prep.minhash_signatures(*data, num_perm=100, seed=7, word_n=3, char_n=5, threads=1)
    two = _prep.minhash_signatures(*data, num_perm=100, seed=7, word_n=3, char_n=5, threads=2)
    assert one == two and len(one) == len(texts) * 100 * 4
    sigs = np.frombuffer(one, dtype="<u4").reshape(len(texts), 100)
    assert (sigs[-1] == 2**32 - 1).all()  # no shingles: the empty signature
    assert (sigs[0] != sigs[1]).any()


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 2**63))
@settings(max_examples=30, deadline=None)
def test_nested_samples(a: int, b: int, seed: int) -> None:
    keys = [f"doc-{i}" for i in range(30)]
    groups = np.zeros(30, dtype=np.uint32)
    small = core.sample_nested(keys, groups, [min(a, b)], seed, "t")
    large = core.sample_nested(keys, groups, [max(a, b)], seed, "t")
    assert list(large[: len(small)]) == list(small)


def _mixture(world, out: Path, k: int = 4, seed: int = 1) -> dict:
    return build_mixture(MixtureSpec("MR", 16, k, seed), world.train("MR"), world.test("MR"), out, lenient=True)


def _pool(path: Path) -> list[dict]:
    """The readable records of a world pool (some lines are broken on purpose)."""
    return read_records(path, lenient=True).records


def test_mixture_counts_dedup_and_nesting(smoke_world, tmp_path: Path) -> None:
    m4 = _mixture(smoke_world, tmp_path / "k4", k=4)
    m8 = _mixture(smoke_world, tmp_path / "k8", k=8)
    faults = [json.loads(line) for line in smoke_world.faults.read_text().splitlines()]
    dups = {f["id"] for f in faults if f["task"] == "MR" and f["lang"] in m4["counts"] and f["fault"] == "exact_duplicate"}
    dropped = {json.loads(line)["id"] for line in (tmp_path / "k4" / "dropped.jsonl").read_text().splitlines()}
    assert dups <= dropped, "every injected exact duplicate is removed"
    assert m4["counts"]["en"]["selected"] == 16 and m4["counts"]["ja"]["selected"] == 4
    ids4 = {json.loads(line)["id"] for line in (tmp_path / "k4" / "mixture.jsonl").read_text().splitlines()}
    ids8 = {json.loads(line)["id"] for line in (tmp_path / "k8" / "mixture.jsonl").read_text().splitlines()}
    assert ids4 < ids8
    assert m4["outputs"]["mixture"]["sha256"] != m8["outputs"]["mixture"]["sha256"]


def test_mixture_is_byte_identical_on_rebuild_and_shuffled_input(smoke_world, tmp_path: Path) -> None:
    _mixture(smoke_world, tmp_path / "a")
    lines = smoke_world.train("MR").read_text(encoding="utf-8").splitlines()
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    build_mixture(MixtureSpec("MR", 16, 4, 1), shuffled, smoke_world.test("MR"), tmp_path / "b", lenient=True)
    for name in ("mixture.jsonl", "dropped.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_asking_too_much_names_language_k_and_count(smoke_world, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"language 'es' has \d+ usable MR records .* asks for 500"):
        _mixture(smoke_world, tmp_path / "m", k=500)


def test_decontamination_drops_exact_and_near_test_items(smoke_world, tmp_path: Path) -> None:
    leaks = {f["id"] for f in map(json.loads, smoke_world.faults.read_text().splitlines()) if f["fault"] == "test_leak"}
    pool = [r for r in _pool(smoke_world.train("SM")) if r["id"] not in leaks]
    tests = [json.loads(line) for line in smoke_world.test("SM").read_text().splitlines()]
    es, fr = next(t for t in tests if t["lang"] == "es"), next(t for t in tests if t["lang"] == "fr")
    exact = dict(es, id="sm-es-train-leak", prompt=es["prompt"].upper())
    words = fr["prompt"].split(" ")
    near = dict(fr, id="sm-fr-train-leak", prompt=" ".join(words[:-1] + ["aujourd'hui."]))
    write_jsonl(tmp_path / "pool.jsonl", pool + [exact, near])
    m = build_mixture(MixtureSpec("SM", 16, 4, 1), tmp_path / "pool.jsonl", smoke_world.test("SM"), tmp_path / "m", lenient=True)
    assert m["counts"]["es"]["dropped"]["test_exact"] == 1
    assert m["counts"]["fr"]["dropped"]["test_near"] == 1
    dropped = {d["id"]: d for d in map(json.loads, (tmp_path / "m" / "dropped.jsonl").read_text().splitlines())}
    assert dropped["sm-fr-train-leak"]["survivor"] == fr["id"]


def test_bad_record_names_file_and_line(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id":"a","lang":"en","prompt":"p","response":"r"}\n{"id":"b","lang":"en"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=rf"{pool}:2: missing field 'prompt'"):
        build_mixture(MixtureSpec("MR", 1, 0, 1, seen=()), pool, None, tmp_path / "m")
    pool.write_bytes(b'{"id":"a","lang":"en","prompt":"p","response":"r"}\n{"id":"b\xff"}\n')
    with pytest.raises(InputError, match=rf"{pool}:2: invalid UTF-8"):
        build_mixture(MixtureSpec("MR", 1, 0, 1, seen=()), pool, None, tmp_path / "m")
    pool.write_text('{"id":"a","lang":"xx","prompt":"p","response":"r"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=rf"{pool}:1: unknown language code 'xx'"):
        build_mixture(MixtureSpec("MR", 1, 0, 1, seen=()), pool, None, tmp_path / "m")


def test_lenient_mode_skips_and_counts(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_bytes(
        b'{"id":"a","lang":"en","prompt":"p","response":"r"}\nnot json\n{"id":"b\xff"}\n{"id":"c","lang":"en"}\n'
    )
    m = build_mixture(MixtureSpec("MR", 1, 0, 1, seen=()), pool, None, tmp_path / "m", lenient=True)
    assert m["skipped"] == {"invalid_utf8": 1, "malformed_json": 1, "missing_field": 1}
    assert m["counts"]["en"]["selected"] == 1


def test_verify_passes_then_catches_one_flipped_byte(smoke_world, tmp_path: Path) -> None:
    world = tmp_path / "world"
    shutil.copytree(smoke_world.root, world)
    from clt_kit.world.generate import WorldPaths

    w = WorldPaths(world)
    _mixture(w, tmp_path / "mix")
    assert verify_path(tmp_path / "mix") == Report(checked=1)

    for target in (tmp_path / "mix" / "mixture.jsonl", w.train("MR")):
        data = bytearray(target.read_bytes())
        data[10] ^= 0x01
        original = target.read_bytes()
        target.write_bytes(bytes(data))
        report = verify_path(tmp_path / "mix")
        assert report.checked == 1 and any(str(target.resolve()) in p for p in report.problems), report.problems
        target.write_bytes(original)
    assert verify_path(tmp_path / "mix") == Report(checked=1)


@given(threads=st.sampled_from([1, 2, 3]), shards=st.integers(1, 4), order_seed=st.integers(0, 2**32))
@settings(max_examples=12, deadline=None)
def test_output_and_manifest_identical_across_threads_order_and_shards(
    smoke_world, tmp_path_factory: pytest.TempPathFactory, threads: int, shards: int, order_seed: int
) -> None:
    import random

    base = tmp_path_factory.mktemp("inv")
    reference = build_mixture(MixtureSpec("IF", 16, 4, 1), smoke_world.train("IF"), smoke_world.test("IF"), base / "ref", lenient=True, threads=1)
    lines = smoke_world.train("IF").read_text(encoding="utf-8").splitlines()
    random.Random(order_seed).shuffle(lines)
    parts = [base / f"shard{i}.jsonl" for i in range(shards)]
    for i, part in enumerate(parts):
        part.write_text("".join(line + "\n" for line in lines[i::shards]), encoding="utf-8")
    other = build_mixture(MixtureSpec("IF", 16, 4, 1), parts, smoke_world.test("IF"), base / "other", lenient=True, threads=threads)
    for name in ("mixture.jsonl", "dropped.jsonl"):
        assert (base / "ref" / name).read_bytes() == (base / "other" / name).read_bytes()
    assert {k: v for k, v in reference.items() if k != "inputs"} == {k: v for k, v in other.items() if k != "inputs"}


def test_manifest_records_model_profile_and_parameters(smoke_world, tmp_path: Path) -> None:
    m = _mixture(smoke_world, tmp_path / "m")
    assert m["language_id_model"]["name"].startswith("clt-script")
    assert len(m["language_id_model"]["sha256"]) == 64
    assert m["parameters"]["clean"]["near"] == {
        "num_perm": 128, "bands": 16, "rows": 8, "seed": 42, "word_n": 3, "char_n": 5, "threshold": 0.8, "verify": True
    }
    text = (tmp_path / "m" / "manifest.json").read_text(encoding="utf-8")
    assert text == json.dumps(m, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def test_reads_parquet_and_saved_hf_dataset(smoke_world, tmp_path: Path) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _pool(smoke_world.train("MR"))
    flat = [{k: r[k] for k in ("id", "lang", "prompt", "response")} for r in rows]
    pq.write_table(pa.Table.from_pylist(flat), tmp_path / "pool.parquet")
    datasets.Dataset.from_list(flat).save_to_disk(str(tmp_path / "pool_hf"))
    jsonl = tmp_path / "pool.jsonl"
    write_jsonl(jsonl, flat)
    outs = []
    for i, source in enumerate((jsonl, tmp_path / "pool.parquet", tmp_path / "pool_hf")):
        build_mixture(MixtureSpec("MR", 16, 4, 1), source, None, tmp_path / f"m{i}")
        outs.append((tmp_path / f"m{i}" / "mixture.jsonl").read_bytes())
    assert outs[0] == outs[1] == outs[2]
    pq.write_table(pa.Table.from_pylist([{"id": "a", "lang": "en", "prompt": None, "response": "r"}]), tmp_path / "bad.parquet")
    with pytest.raises(InputError, match=r"bad.parquet:row 0: missing field 'prompt'"):
        build_mixture(MixtureSpec("MR", 1, 0, 1, seen=()), tmp_path / "bad.parquet", None, tmp_path / "mb")


def test_verify_checks_a_world_too(tmp_path: Path) -> None:
    from clt_kit.scales import SMOKE
    from clt_kit.world import generate_world

    world = generate_world(tmp_path / "w", 4, SMOKE.world, SMOKE.name)
    assert verify_path(world.root) == Report(checked=1)
    target = world.test("IF")
    data = bytearray(target.read_bytes())
    data[5] ^= 0x01
    target.write_bytes(bytes(data))
    report = verify_path(world.root)
    assert report.checked == 1 and len(report.problems) == 1 and "IF/test.jsonl" in report.problems[0]


def _write_pool(path: Path, rows: list[dict]) -> Path:
    write_jsonl(path, rows)
    return path


SENTENCES = {
    "one": "Mia has seven red apples in her kitchen basket today.",
    "two": "The old fisherman walked along the quiet harbour at dawn.",
    "three": "Our teacher wrote three long questions on the board.",
    "four": "A small dog slept under the wooden table all afternoon.",
}


def _row(rid: str, prompt: str, lang: str = "en", **extra: str) -> dict:
    return {"id": rid, "lang": lang, "prompt": SENTENCES[prompt], "response": "Here is my answer to that.", **extra}


def test_duplicate_ids_with_different_content_are_an_error_naming_both_lines(tmp_path: Path) -> None:
    pool = _write_pool(tmp_path / "pool.jsonl", [_row("x", "one"), _row("y", "two"), _row("x", "three"), _row("z", "four")])
    with pytest.raises(InputError, match=rf"{pool}:1 and {pool}:3: two records with id 'x' and different content"):
        build_mixture(MixtureSpec("MR", 1, 0, 0, seen=()), pool, None, tmp_path / "m")
    m = build_mixture(MixtureSpec("MR", 2, 0, 0, seen=()), pool, None, tmp_path / "m", lenient=True)
    assert m["skipped"] == {"duplicate_id": 2}  # neither can be told to be the right one
    assert sorted(r["id"] for r in map(json.loads, (tmp_path / "m" / "mixture.jsonl").read_text().splitlines())) == ["y", "z"]
    again = _write_pool(tmp_path / "again.jsonl", [_row("x", "one"), _row("x", "one"), _row("y", "two")])
    m = build_mixture(MixtureSpec("MR", 2, 0, 0, seen=()), again, None, tmp_path / "m2")  # the same record twice: a duplicate
    assert m["counts"]["en"]["dropped"]["exact_duplicate"] == 1 and m["counts"]["en"]["selected"] == 2


def test_the_same_pool_file_twice_is_an_error(tmp_path: Path) -> None:
    pool = _write_pool(tmp_path / "pool.jsonl", [_row("x", "one"), _row("y", "two")])
    shutil.copy(pool, tmp_path / "copy.jsonl")
    for shards in ([pool, pool], [pool, tmp_path / "sub" / ".." / "pool.jsonl"], [pool, tmp_path / "copy.jsonl"]):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(InputError, match="the same pool file given twice"):
            build_mixture(MixtureSpec("MR", 1, 0, 0, seen=()), shards, None, tmp_path / "m")


def test_a_record_of_another_task_is_refused_or_skipped(tmp_path: Path) -> None:
    pool = _write_pool(tmp_path / "pool.jsonl", [_row("x", "one", task="MR"), _row("y", "two", task="IF")])
    with pytest.raises(InputError, match=rf"{pool}:2: a record of task 'IF' in a MR mixture"):
        build_mixture(MixtureSpec("MR", 1, 0, 0, seen=()), pool, None, tmp_path / "m")
    m = build_mixture(MixtureSpec("MR", 1, 0, 0, seen=()), pool, None, tmp_path / "m", lenient=True)
    assert m["skipped"] == {"wrong_task": 1}


def test_every_record_read_is_accounted_for(smoke_world, tmp_path: Path) -> None:
    m = _mixture(smoke_world, tmp_path / "m")
    lines = [line for line in smoke_world.train("MR").read_text(encoding="utf-8").splitlines() if line.strip()]
    records = m["records"]
    assert records["read"] == len(lines)
    assert records["read"] == records["skipped"] + sum(records["other_languages"].values()) + records["in_mixture_languages"]
    assert records["skipped"] == sum(m["skipped"].values())
    assert sorted(records["other_languages"]) == ["ar", "ko", "pt"]  # the unseen languages: read, not mixed in
    assert records["in_mixture_languages"] == sum(c["in"] for c in m["counts"].values())


def test_a_failing_prep_leaves_the_old_mixture_whole(smoke_world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from clt_kit.prep import mixture

    _mixture(smoke_world, tmp_path / "m", k=4)
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    written = []

    def full_disk(path: Path, obj: object) -> None:
        written.append(path)
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(mixture, "write_json", full_disk)  # the manifest, last of the three files
    with pytest.raises(OSError, match="No space left"):
        _mixture(smoke_world, tmp_path / "m", k=8)
    assert written and written[0].parent != tmp_path / "m"  # written beside the old folder, not into it
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folder or file left


@pytest.mark.parametrize("field, value", [("english", -1), ("k", -5), ("seed", -1), ("k", 1.5)])
def test_mixture_sizes_must_be_non_negative_integers(field: str, value: object) -> None:
    args = {"task": "MR", "english": 1, "k": 0, "seed": 0, field: value}
    with pytest.raises(ValueError, match=f"mixture {field} must be a non-negative integer"):
        MixtureSpec(**args)


def test_a_bad_test_set_line_does_not_offer_lenient(tmp_path: Path) -> None:
    pool = _write_pool(tmp_path / "pool.jsonl", [_row("x", "one")])
    test = tmp_path / "test.jsonl"
    test.write_text('{"id": "t", "lang": "en", "prompt": "p", "response": "r"}\n{broken\n', encoding="utf-8")
    with pytest.raises(InputError, match=rf"{test}:2: malformed JSON") as e:
        build_mixture(MixtureSpec("MR", 1, 0, 0, seen=()), pool, test, tmp_path / "m", lenient=True)
    assert "pass --lenient" not in str(e.value) and "fix the test set" in str(e.value)
    bad_pool = tmp_path / "bad.jsonl"
    bad_pool.write_text('{broken\n', encoding="utf-8")
    with pytest.raises(InputError, match="pass --lenient"):
        build_mixture(MixtureSpec("MR", 1, 0, 0, seen=()), bad_pool, None, tmp_path / "m")
