"""The paper scale's dataset adapters (sources/), each on a fixture in its dataset's own shape
(tests/data/sources/, README there), MGSM on the real files where ../shared/data/mgsm is present."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clt_kit.jsonio import InputError, read_json, read_jsonl
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.prep.core import sha256_file
from clt_kit.sources import DATA_RECORD, DataSpec, SourceSpec, build_data, read_data_spec

FIXTURES = Path(__file__).parent / "data" / "sources"
MGSM = Path(__file__).resolve().parents[2] / "shared" / "data" / "mgsm"
XLSUM_LANGS = ("en", "es", "ja", "ko")


def _build(tmp_path: Path, *sources: SourceSpec, seed: int = 0) -> tuple[Path, dict]:
    out = build_data(DataSpec(seed, sources), tmp_path / "data")
    return out, read_json(out / DATA_RECORD)


def test_xlsum_train_and_test_in_the_worlds_layout_with_a_seeded_test_sample(tmp_path: Path) -> None:
    out, record = _build(tmp_path, SourceSpec("xlsum", "train", str(FIXTURES / "xlsum"), XLSUM_LANGS),
                         SourceSpec("xlsum", "test", str(FIXTURES / "xlsum"), XLSUM_LANGS, per_lang=2))
    train, test = read_jsonl(out / "SM" / "train.jsonl"), read_jsonl(out / "SM" / "test.jsonl")
    assert {i["lang"] for i in train} == set(XLSUM_LANGS) and len(train) == 8
    assert [sum(i["lang"] == lang for i in test) for lang in XLSUM_LANGS] == [2, 2, 2, 2]
    es = next(i for i in train if i["lang"] == "es")
    assert es["prompt"].startswith("Resume el texto.\n") and es["task"] == "SM" and es["source_id"].startswith("news-spa-train")
    rows = {json.loads(line)["id"]: json.loads(line) for line in (FIXTURES / "xlsum" / "spanish_train.jsonl").read_text().splitlines()}
    assert es["response"] == rows[es["source_id"]]["summary"]
    english = record["sources"][1]
    assert english["configs"] == {"en": "english", "es": "spanish", "ja": "japanese", "ko": "korean"} and english["per_lang"] == 2
    assert english["counts"]["en"] == {"read": 5, "kept": 2} and english["split"] == "test"
    assert record["files"] == {name: sha256_file(str(out / name)) for name in ("SM/test.jsonl", "SM/train.jsonl")}
    # the same sample and ids from the rows in another order, and another sample with another seed
    shuffled = tmp_path / "shuffled"
    shutil.copytree(FIXTURES / "xlsum", shuffled)
    lines = (shuffled / "english_test.jsonl").read_text().splitlines()
    random.Random(1).shuffle(lines)
    (shuffled / "english_test.jsonl").write_text("\n".join(lines) + "\n")
    again, _ = _build(tmp_path / "again", SourceSpec("xlsum", "test", str(shuffled), XLSUM_LANGS, per_lang=2))
    assert (again / "SM" / "test.jsonl").read_bytes() == (out / "SM" / "test.jsonl").read_bytes()
    other, _ = _build(tmp_path / "other", SourceSpec("xlsum", "test", str(FIXTURES / "xlsum"), ("en",), per_lang=2), seed=5)
    assert {i["source_id"] for i in read_jsonl(other / "SM" / "test.jsonl")} != {i["source_id"] for i in test if i["lang"] == "en"}


def test_the_data_folder_feeds_prep_like_the_world(tmp_path: Path) -> None:
    out, _ = _build(tmp_path, SourceSpec("xlsum", "train", str(FIXTURES / "xlsum"), XLSUM_LANGS),
                    SourceSpec("xlsum", "test", str(FIXTURES / "xlsum"), XLSUM_LANGS))
    build_mixture(MixtureSpec("SM", 2, 1, 0, ("es", "ja")), out / "SM" / "train.jsonl", out / "SM" / "test.jsonl", tmp_path / "mix")
    rows = read_jsonl(tmp_path / "mix" / "mixture.jsonl")
    assert sorted(r["lang"] for r in rows) == ["en", "en", "es", "ja"]


def test_xlsum_from_the_hubs_parquet_layout(tmp_path: Path) -> None:
    root = tmp_path / "xlsum-parquet"
    for config in ("english", "korean"):
        rows = [json.loads(line) for line in (FIXTURES / "xlsum" / f"{config}_test.jsonl").read_text().splitlines()]
        (root / config / "test").mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows), root / config / "test" / "0000.parquet")
    out, record = _build(tmp_path, SourceSpec("xlsum", "test", str(root), ("en", "ko")))
    assert record["sources"][0]["counts"] == {"en": {"read": 5, "kept": 5}, "ko": {"read": 3, "kept": 3}}


def test_mcot_math_reads_the_language_from_lang_id_and_skips_other_languages(tmp_path: Path) -> None:
    out, record = _build(tmp_path, SourceSpec("mcot_math", "train", str(FIXTURES / "mcot_math")))
    items = read_jsonl(out / "MR" / "train.jsonl")
    assert sorted(i["lang"] for i in items) == ["en", "en", "es", "fr", "ja", "zh"]
    assert record["sources"][0]["skipped"] == {"other_language": 1}  # de is not a language of the study
    assert next(i for i in items if i["lang"] == "ja")["response"].endswith("答えは: 12")


@pytest.mark.skipif(not MGSM.is_dir(), reason=f"the real MGSM files are not at {MGSM}")
def _real_mgsm() -> Path:
    if not (MGSM / "mgsm_en.tsv").is_file():
        pytest.skip(f"the real MGSM files are not here ({MGSM}: the url-nlp release's mgsm_<lang>.tsv); this test reads them")
    return MGSM


def test_mgsm_on_the_real_files_and_a_users_own_translation(tmp_path: Path) -> None:
    _real_mgsm()
    local = tmp_path / "mgsm"
    local.mkdir()
    for lang in ("en", "ja"):
        shutil.copy(MGSM / f"mgsm_{lang}.tsv", local)
    exemplars = str(FIXTURES / "mgsm" / "exemplars.json")
    out, record = _build(tmp_path, SourceSpec("mgsm", "test", str(local), ("en", "ja", "pt"), files={"pt": str(FIXTURES / "mgsm" / "mgsm_pt.tsv")},
                                              shots=2, exemplars=exemplars))
    items = read_jsonl(out / "MR" / "test.jsonl")
    assert [sum(i["lang"] == lang for i in items) for lang in ("en", "ja", "pt")] == [250, 250, 3]
    assert all(isinstance(i["answer"], int) for i in items)
    first_en = (MGSM / "mgsm_en.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")
    shots = json.loads(Path(exemplars).read_text())
    two_shot = "\n\n".join(f"{shots['en'][k]['q']}\n{shots['en'][k]['a']}" for k in ("1", "2"))
    assert any(i["prompt"] == f"{two_shot}\n\nQuestion: {first_en[0]}\nStep-by-Step Answer:" and i["answer"] == int(first_en[1]) for i in items)
    ja = next(i for i in items if i["lang"] == "ja")["prompt"]
    assert ja.count("問題：") == 3 and ja.endswith("\nステップごとの答え：")  # the native labels, full-width colon and all
    # each stops where the next question would start, as lm-eval's `until` ("Question:", "問題：")
    assert {i["lang"]: tuple(i["stop"]) for i in items} == {"en": ("Question:",), "ja": ("問題：",), "pt": ("Pergunta:",)}
    assert record["sources"][0]["files"] == {"pt": str(FIXTURES / "mgsm" / "mgsm_pt.tsv")} and record["sources"][0]["shots"] == 2
    assert record["sources"][0]["exemplars"]["sha256"] == sha256_file(exemplars)
    with pytest.raises(InputError, match=r"has no ko data; give `files: \{ko: <path>\}`.*machine-translated"):
        _build(tmp_path / "ko", SourceSpec("mgsm", "test", str(local), ("en", "ko"), exemplars=exemplars))
    with pytest.raises(InputError, match=r"exemplars.json: 2 worked examples for en, 8 needed"):
        _build(tmp_path / "few", SourceSpec("mgsm", "test", str(local), ("en",), exemplars=exemplars))


def test_mgsm_ships_its_native_eight_shot_exemplars(tmp_path: Path) -> None:
    """The paper's 8 shots by default, from MGSM's own exemplars shipped with the kit (source and
    license recorded); a config's `exemplars` adds the languages MGSM lacks."""
    from clt_kit.sources.adapters import MGSM_EXEMPLARS

    out, record = _build(tmp_path, SourceSpec("mgsm", "test", str(FIXTURES / "mgsm"), ("en", "ja")))
    items = read_jsonl(out / "MR" / "test.jsonl")
    shipped = json.loads(MGSM_EXEMPLARS.path.read_text(encoding="utf-8"))
    en = next(i for i in items if i["lang"] == "en")
    eight = "\n\n".join(f"{shipped['en'][str(k)]['q']}\n{shipped['en'][str(k)]['a']}" for k in range(1, 9))
    assert en["prompt"].startswith(eight + "\n\nQuestion: ") and en["prompt"].startswith("Question: Roger has 5 tennis balls.")
    assert next(i for i in items if i["lang"] == "ja")["prompt"].count("問題：") == 9
    kit = record["sources"][0]["kit_exemplars"]
    assert kit["license"] == "CC BY 4.0" and "google-research/url-nlp" in kit["source"] and kit["sha256"] == sha256_file(str(MGSM_EXEMPLARS.path))
    assert (MGSM_EXEMPLARS.path.with_suffix(".md")).is_file() and record["sources"][0]["shots"] == 8
    assert sorted(shipped) == ["bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"] and all(len(v) == 8 for v in shipped.values())
    # pt is not an MGSM language: its worked examples come from the config, the others' from the kit
    with pytest.raises(InputError, match=r"the kit's exemplars|no exemplars file: 0 worked examples for pt, 8 needed; give 8 for pt"):
        _build(tmp_path / "pt", SourceSpec("mgsm", "test", str(FIXTURES / "mgsm"), ("en", "pt"), files={"pt": str(FIXTURES / "mgsm" / "mgsm_pt.tsv")}))
    mine = tmp_path / "pt.json"
    mine.write_text(json.dumps({"pt": {str(k): {"q": f"Pergunta: {k} + 1?", "a": f"Resposta passo a passo: {k + 1}."} for k in range(1, 9)}}))
    out, record = _build(tmp_path / "pt2", SourceSpec("mgsm", "test", str(FIXTURES / "mgsm"), ("en", "pt"),
                                                      files={"pt": str(FIXTURES / "mgsm" / "mgsm_pt.tsv")}, exemplars=str(mine)))
    prompts = {i["lang"]: i["prompt"] for i in read_jsonl(out / "MR" / "test.jsonl")}
    assert prompts["pt"].startswith("Pergunta: 1 + 1?") and prompts["en"].startswith("Question: Roger has 5")


def test_parallel_test_sets_keep_the_same_problems_in_every_language(tmp_path: Path) -> None:
    """MGSM's files are the same 250 problems in every language, line by line: a sample of 12 is
    the same 12 problems (the same answers) in en and es, and data.json names them."""
    mgsm = _real_mgsm()
    out, record = _build(tmp_path, SourceSpec("mgsm", "test", str(mgsm), ("en", "es", "ja"), per_lang=12, shots=0))
    items = read_jsonl(out / "MR" / "test.jsonl")
    by_lang = {lang: sorted((int(i["parallel_id"]), i["answer"]) for i in items if i["lang"] == lang) for lang in ("en", "es", "ja")}
    assert len(by_lang["en"]) == 12 and by_lang["en"] == by_lang["es"] == by_lang["ja"]
    lines = {lang: (mgsm / f"mgsm_{lang}.tsv").read_text(encoding="utf-8").splitlines() for lang in ("en", "es")}
    for lang in ("en", "es"):  # the n-th line of each file
        assert all(i["prompt"] == lines[lang][int(i["parallel_id"])].split("\t")[0].strip() for i in items if i["lang"] == lang)
    parallel = record["sources"][0]["parallel"]
    assert parallel["by"] == "position" and sorted(map(int, parallel["source_items"])) == [p for p, _ in by_lang["en"]]
    other, _ = _build(tmp_path / "other", SourceSpec("mgsm", "test", str(mgsm), ("en",), per_lang=12, shots=0), seed=1)
    assert {i["parallel_id"] for i in read_jsonl(other / "MR" / "test.jsonl")} != {str(p) for p, _ in by_lang["en"]}


def test_aya_dolly_samples_the_same_source_items_in_every_language(tmp_path: Path) -> None:
    for seed in range(4):
        out, record = _build(tmp_path / str(seed), SourceSpec("aya_dolly", "test", str(FIXTURES / "aya_dolly"), ("en", "es"), per_lang=1),
                             seed=seed)
        items = read_jsonl(out / "IF" / "test.jsonl")
        assert sorted(i["lang"] for i in items) == ["en", "es"]
        assert len({i["parallel_id"] for i in items}) == 1  # the same source item: en 1000 with es 1001, or en 1005 with es 1006
        assert record["sources"][0]["parallel"] == {"by": "source_id", "source_items": [items[0]["parallel_id"]]}


def test_xlsum_is_not_parallel_and_keeps_its_per_language_sample(tmp_path: Path) -> None:
    _, record = _build(tmp_path, SourceSpec("xlsum", "test", str(FIXTURES / "xlsum"), XLSUM_LANGS, per_lang=2))
    assert record["sources"][0]["parallel"] is None


def test_aya_dolly_from_the_hubs_parquet_layout_maps_iso_639_3(tmp_path: Path) -> None:
    root = tmp_path / "aya"
    (root / "dolly_machine_translated").mkdir(parents=True)
    rows = read_jsonl(FIXTURES / "aya_dolly" / "dolly_machine_translated.jsonl")
    pq.write_table(pa.Table.from_pylist(rows), root / "dolly_machine_translated" / "test-00000-of-00001.parquet")
    out, record = _build(tmp_path, SourceSpec("aya_dolly", "test", str(root)))
    items = read_jsonl(out / "IF" / "test.jsonl")
    assert sorted(i["lang"] for i in items) == ["en", "en", "es", "es", "ja", "ko"]
    assert all("instructions" not in i for i in items)  # open-ended: the judge rates them
    assert record["sources"][0]["skipped"] == {"other_language": 1} and record["sources"][0]["per_lang"] == 200


def test_sharegpt_takes_the_first_user_turn_and_its_reply_and_identifies_the_language(tmp_path: Path) -> None:
    out, record = _build(tmp_path, SourceSpec("sharegpt", "train", str(FIXTURES / "sharegpt" / "sharegpt.json")))
    items = {i["lang"]: i for i in read_jsonl(out / "IF" / "train.jsonl")}
    assert sorted(items) == ["en", "es", "fr", "ja", "zh"]
    assert items["es"]["prompt"].startswith("Escribe una lista") and items["es"]["response"] == "- Naranjas\n- Limones\n- Higos"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([{"id": "x", "conversations": [{"from": "human", "value": "Hello there, how are you?"}]}]))
    with pytest.raises(InputError, match=r"broken.json:record 0: no user turn followed by a reply"):
        _build(tmp_path / "b", SourceSpec("sharegpt", "train", str(broken)))


def test_the_generic_adapter_maps_any_fields(tmp_path: Path) -> None:
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps({"q": f"Question {i}?", "a": f"Answer {i}.", "language": "fr" if i % 2 else "en", "n": str(i)}) + "\n"
                            for i in range(4)))
    spec = SourceSpec("generic", "train", str(data), task="MR", fields={"prompt": "q", "response": "a", "lang": "language", "answer": "n"})
    out, record = _build(tmp_path, spec)
    items = read_jsonl(out / "MR" / "train.jsonl")
    assert sorted(i["lang"] for i in items) == ["en", "en", "fr", "fr"] and sorted(i["answer"] for i in items) == [0, 1, 2, 3]
    assert record["sources"][0]["fields"] == {"prompt": "q", "response": "a", "lang": "language", "answer": "n"}
    with pytest.raises(InputError, match=r"has no 'lang'.*add lang ="):
        _build(tmp_path / "x", SourceSpec("generic", "train", str(data), task="MR", fields={"prompt": "q", "response": "a"}))


def test_the_generic_adapter_reads_tsv_with_declared_columns_or_a_header_line(tmp_path: Path) -> None:
    headerless = tmp_path / "plain.tsv"
    headerless.write_text("Ann has 2 apples and buys 3. How many?\t5\nA box holds 4 pens. How many in 2 boxes?\t8\n", encoding="utf-8")
    fields = {"prompt": "question", "response": "question", "answer": "answer_number"}
    out, record = _build(tmp_path, SourceSpec("generic", "test", str(headerless), task="MR", fields=fields, lang="en",
                                              columns=("question", "answer_number")))
    assert sorted(i["answer"] for i in read_jsonl(out / "MR" / "test.jsonl")) == [5, 8]
    assert record["sources"][0]["columns"] == ["question", "answer_number"]
    headed = tmp_path / "headed.tsv"
    headed.write_text("question\tanswer_number\n" + headerless.read_text(encoding="utf-8"), encoding="utf-8")
    out, _ = _build(tmp_path / "h", SourceSpec("generic", "test", str(headed), task="MR", fields=fields, lang="en"))
    assert sorted(i["answer"] for i in read_jsonl(out / "MR" / "test.jsonl")) == [5, 8]
    with pytest.raises(InputError, match=r"headerless.tsv:1: 3 tab-separated columns, expected 2 \(question, answer_number, declared\)"):
        (tmp_path / "headerless.tsv").write_text("a\tb\tc\n", encoding="utf-8")
        _build(tmp_path / "x", SourceSpec("generic", "test", str(tmp_path / "headerless.tsv"), task="MR", fields=fields, lang="en",
                                          columns=("question", "answer_number")))
    with pytest.raises(InputError, match=r"plain.tsv:2: 2 tab-separated columns, expected 1 .*in its header.*needs `columns`"):
        (tmp_path / "plain.tsv").write_text("just one column\nAnn has 2 apples\t5\n", encoding="utf-8")
        _build(tmp_path / "y", SourceSpec("generic", "test", str(tmp_path / "plain.tsv"), task="MR", fields=fields, lang="en"))
    with pytest.raises(InputError, match=r"mgsm: `columns` names the columns of a generic source"):
        _build(tmp_path / "z", SourceSpec("mgsm", "test", str(FIXTURES / "mgsm"), ("en",), columns=("a", "b")))


def test_a_row_without_a_field_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "xlsum"
    shutil.copytree(FIXTURES / "xlsum", bad)
    lines = (bad / "korean_test.jsonl").read_text().splitlines()
    row = json.loads(lines[1])
    del row["summary"]
    lines[1] = json.dumps(row, ensure_ascii=False)
    (bad / "korean_test.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"korean_test.jsonl:2: no field 'summary'; a xlsum row has id, summary, text"):
        _build(tmp_path, SourceSpec("xlsum", "test", str(bad), ("ko",)))
    assert not (tmp_path / "data").exists()  # nothing half-written


def test_data_configs_in_yaml_and_toml_and_their_errors(tmp_path: Path) -> None:
    yaml_file = tmp_path / "data.yaml"
    yaml_file.write_text(f"seed: 3\nsources:\n  - dataset: xlsum\n    role: test\n    from: {FIXTURES / 'xlsum'}\n    languages: [en, ko]\n    per_lang: 2\n")
    toml_file = tmp_path / "data.toml"
    toml_file.write_text(f'seed = 3\n[[sources]]\ndataset = "xlsum"\nrole = "test"\nfrom = "{FIXTURES / "xlsum"}"\nlanguages = ["en", "ko"]\nper_lang = 2\n')
    assert read_data_spec(yaml_file) == read_data_spec(toml_file) == DataSpec(3, (SourceSpec("xlsum", "test", str(FIXTURES / "xlsum"), ("en", "ko"), 2),))
    toml_file.write_text('seed = 0\n[[sources]]\ndataset = "xlsum"\nrole = "test"\nper_language = 2\n')
    with pytest.raises(InputError, match=r"data.toml: sources\[0\].per_language: unknown key; a source has dataset, role, from"):
        read_data_spec(toml_file)
    toml_file.write_text('seed = 0\n[[sources]]\ndataset = "xlsum"\nrole = "dev"\n')
    with pytest.raises(InputError, match=r"data.toml: sources\[0\].role: must be train or test, got 'dev'"):
        read_data_spec(toml_file)
    with pytest.raises(InputError, match=r"unknown dataset adapter 'xlsumm'"):
        _build(tmp_path, SourceSpec("xlsumm", "test"))


def test_the_data_command_names_each_source_before_reading_and_reports_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from clt_kit.cli import main
    from clt_kit.sources import build

    def offline(hub_id: str, *args: object) -> None:
        raise InputError(f"{hub_id}: the hub cannot be reached from this test")

    monkeypatch.setattr(build, "hub_rows", offline)

    config = tmp_path / "data.yaml"
    config.write_text(f"seed: 0\nsources:\n  - {{dataset: xlsum, role: test, from: {FIXTURES / 'xlsum'}, languages: [en, ja], per_lang: 2}}\n"
                      "  - {dataset: aya_dolly, role: test, languages: [en]}\n")
    result = CliRunner().invoke(main, ["data", str(config), "--out", str(tmp_path / "out")])
    # the second source is a hub id: named as a download before anything is read
    assert f"xlsum (test): {FIXTURES / 'xlsum'}\n" in result.output
    assert "aya_dolly (test): CohereForAI/aya_evaluation_suite (downloaded from the Hugging Face hub)" in result.output
    assert not (tmp_path / "out").exists()
    config.write_text(f"seed: 0\nsources:\n  - {{dataset: xlsum, role: test, from: {FIXTURES / 'xlsum'}, languages: [en, ja], per_lang: 2}}\n")
    result = CliRunner().invoke(main, ["data", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "SM test from xlsum: en 2, ja 2" in result.output and (tmp_path / "out" / "SM" / "test.jsonl").is_file()
