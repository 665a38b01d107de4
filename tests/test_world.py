"""The embedded world: determinism, languages, disjoint test sets, IF references follow their instructions."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from clt_kit import _prep
from clt_kit.chat import ASSISTANT, USER
from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.study import TASKS
from clt_kit.prep.records import read_records
from clt_kit.scales import SMOKE
from clt_kit.world import generate_world
from clt_kit.world.checkers import followed


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = generate_world(tmp_path / "a", 7, SMOKE.world, SMOKE.name)
    b = generate_world(tmp_path / "b", 7, SMOKE.world, SMOKE.name)
    c = generate_world(tmp_path / "c", 8, SMOKE.world, SMOKE.name)
    assert _files(a.root) == _files(b.root)
    assert _files(a.root)["MR/train.jsonl"] != _files(c.root)["MR/train.jsonl"]


def test_every_language_and_task_present_and_tests_disjoint(smoke_world) -> None:
    for task in TASKS:
        train = read_records(smoke_world.train(task), lenient=True).records
        leaked = {f["id"] for f in map(json.loads, smoke_world.faults.read_text().splitlines()) if f["fault"] == "test_leak"}
        train = [r for r in train if r["id"] not in leaked]
        test = [json.loads(line) for line in smoke_world.test(task).read_text().splitlines()]
        assert {r["lang"] for r in test} == set(PAPER_LANGUAGES)
        assert {r["lang"] for r in train} == set(PAPER_LANGUAGES)
        train_prompts = {_prep.normalize_text(r["prompt"]) for r in train}
        assert not train_prompts & {_prep.normalize_text(r["prompt"]) for r in test}


def test_if_references_follow_their_instructions(smoke_world) -> None:
    for path in (smoke_world.train("IF"), smoke_world.test("IF")):
        for item in read_records(path, lenient=True).records:
            assert all(followed(item["response"], item["instructions"])), item


def test_mr_solutions_end_with_the_answer(smoke_world) -> None:
    for line in smoke_world.test("MR").read_text().splitlines():
        item = json.loads(line)
        assert str(item["answer"]) in item["response"].splitlines()[-1]


def test_a_ninth_language_is_one_data_file(tmp_path: Path, monkeypatch) -> None:
    from clt_kit.world import lexicon

    data = json.loads((Path(lexicon.__file__).parent / "languages" / "es.json").read_text(encoding="utf-8"))
    data.update(code="it", name="Italian", locale="it")
    data["mr"]["answer"] = "La risposta è {n}."
    extra = tmp_path / "langs"
    extra.mkdir()
    (extra / "it.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv(lexicon.EXTRA_LANGUAGES_ENV, str(extra))
    assert "it" in lexicon.available()
    world = generate_world(tmp_path / "w", 5, SMOKE.world, SMOKE.name, languages=("en", "it"))
    langs = {json.loads(line)["lang"] for line in world.test("MR").read_text(encoding="utf-8").splitlines()}
    assert langs == {"en", "it"}
    assert lexicon.load("it").months[0] == "gennaio"  # CLDR through Babel, from the file's locale


def test_a_world_from_other_settings_of_its_scale_is_made_again_and_verify_names_them(tmp_path: Path, monkeypatch) -> None:
    """A cached world is reused only if the scale's world settings are the ones it was made with:
    a kit whose scale now asks for larger pools must not train on the old, smaller ones."""
    from dataclasses import replace

    from clt_kit import scales
    from clt_kit.jsonio import read_json
    from clt_kit.verify import verify_world
    from clt_kit.world.generate import ensure_world

    old = ensure_world(tmp_path / "w", 3, SMOKE.world, SMOKE.name)
    assert read_json(old.manifest)["counts"]["IF"]["en"]["clean"] == SMOKE.world.pool_per_lang
    larger = replace(SMOKE, world=replace(SMOKE.world, pool_per_lang=SMOKE.world.pool_per_lang + 6))
    stale = read_json(old.manifest)
    assert ensure_world(tmp_path / "w", 3, SMOKE.world, SMOKE.name).manifest.read_bytes() == old.manifest.read_bytes()  # same settings: reused

    monkeypatch.setitem(scales.SCALES, "smoke", larger)
    again = ensure_world(tmp_path / "w", 3, larger.world, larger.name)
    assert read_json(again.manifest)["counts"]["IF"]["en"]["clean"] == larger.world.pool_per_lang
    problems = verify_world(tmp_path / "stale-world.json", stale).problems
    assert any("made with other settings of scale 'smoke'" in p and "pool_per_lang differ" in p for p in problems), problems


def test_the_corpus_writes_its_task_items_in_the_format_the_config_names(tmp_path: Path) -> None:
    """"chat": each task item as fine-tuning's chat turn (a request, then the answer in its
    language), in every language; "plain": the request, a line break, the answer, no chat token."""
    chat = generate_world(tmp_path / "chat", 7, dataclasses.replace(SMOKE.world, corpus_item_format="chat"), SMOKE.name)
    plain = generate_world(tmp_path / "plain", 7, dataclasses.replace(SMOKE.world, corpus_item_format="plain"), SMOKE.name)
    rows = [json.loads(line) for line in chat.corpus.read_text().splitlines()]
    turns = [r for r in rows if r["text"].startswith(USER)]
    assert {r["lang"] for r in turns} == set(PAPER_LANGUAGES)
    assert all(r["text"].count(ASSISTANT) == 1 and r["text"].index(ASSISTANT) > len(USER) for r in turns)
    assert ASSISTANT not in plain.corpus.read_text() and USER not in plain.corpus.read_text()
    # the same items, only written otherwise: as many lines, the same languages, the same pools
    assert len(rows) == len(plain.corpus.read_text().splitlines())
    assert chat.train("MR").read_bytes() == plain.train("MR").read_bytes()
    with pytest.raises(ValueError, match="corpus_item_format 'markdown'"):
        dataclasses.replace(SMOKE.world, corpus_item_format="markdown")
