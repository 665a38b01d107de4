"""`clt-kit data CONFIG` on bad input: every problem of the config (each key's type and range, what
keys mean together, the local files they name) or of the data files it names is one `error:` line
naming the file and the key or line, exit 2, before anything is written; never a traceback, and
nothing accepted silently. Hypothesis throws random values at every key of the schema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from clt_kit.cli import main
from clt_kit.jsonio import read_jsonl
from clt_kit.sources.config import _Config, _Source
from clt_kit.sources.read import HUB_ID

FIXTURES = Path(__file__).parent / "data" / "sources"
XLSUM = {"dataset": "xlsum", "role": "test", "from": str(FIXTURES / "xlsum"), "languages": ["en"], "per_lang": 2}


def _run(config: Path, out: Path) -> tuple[int, str, str]:
    """The CLI's exit code, stdout and stderr; an uncaught exception fails the test with its traceback."""
    result = CliRunner().invoke(main, ["data", str(config), "--out", str(out)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _refused(config: Path, out: Path, *expected: str) -> str:
    """Asserts one `error:` line naming each of `expected`, exit 2, and `out` as it was; returns the line."""
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} if out.exists() else None
    code, _, err = _run(config, out)
    line = _error_line(err)
    assert code == 2, (code, err)
    for text in expected:
        assert text in line, (text, line)
    assert "validation error" not in line and "pydantic" not in line
    after = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} if out.exists() else None
    assert after == before  # nothing already stored lost, nothing half-written
    return line


def _error_line(stderr: str) -> str:
    """The one `error:` line of stderr (after any progress bars), which is its last line."""
    lines = stderr.splitlines()
    assert lines and lines[-1].startswith("error: ") and stderr.count("error:") == 1 and "Traceback" not in stderr, stderr
    return lines[-1]


def _yaml(tmp_path: Path, *sources: Any, seed: Any = 0, name: str = "data.yaml") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"seed": seed, "sources": list(sources)}), encoding="utf-8")  # JSON is YAML
    return path


# -- the examples, each a class: the config ------------------------------------------------

@pytest.mark.parametrize(("source", "key", "shown"), [
    ({**XLSUM, "per_lang": "ten"}, "sources[0].per_lang: must be a positive integer", "got 'ten'"),
    ({**XLSUM, "per_lang": -1}, "sources[0].per_lang: must be a positive integer", "got -1"),
    ({**XLSUM, "per_lang": 0}, "sources[0].per_lang: must be a positive integer", "got 0"),
    ({**XLSUM, "per_lang": 2.5}, "sources[0].per_lang: must be a positive integer", "got 2.5"),
    ({**XLSUM, "per_lang": True}, "sources[0].per_lang: must be a positive integer", "got True"),
    ({**XLSUM, "languages": 5}, "sources[0].languages: must be a non-empty list of the study's language codes", "got 5"),
    ({**XLSUM, "languages": "en"}, "sources[0].languages: must be a non-empty list", "got 'en'"),
    ({**XLSUM, "languages": ["en", "de"]}, "sources[0].languages[1]: must be a non-empty list", "got 'de'"),
    ({**XLSUM, "languages": ["en", "en"]}, "sources[0].languages: en is listed twice", ""),
    ({**XLSUM, "role": "dev"}, "sources[0].role: must be train or test", "got 'dev'"),
    ({**XLSUM, "shots": -2}, "sources[0].shots: must be an integer of 0 or more", "got -2"),
    ({**XLSUM, "perlang": 2}, "sources[0].perlang: unknown key; a source has dataset, role, from", ""),
    ({k: v for k, v in XLSUM.items() if k != "role"}, "sources[0].role: missing; give train or test", ""),
    ({**XLSUM, "dataset": "xlsumm"}, "sources[0].dataset: unknown adapter 'xlsumm'; must be the name of an adapter: aya_dolly", ""),
    ({**XLSUM, "dataset": "mgsm", "role": "train"}, "sources[0].role: mgsm has no train data; it gives test", ""),
    ({**XLSUM, "task": "SM"}, "sources[0].task: for a generic source only", ""),
    ({**XLSUM, "lang": "en"}, "sources[0].lang: xlsum knows each row's language itself", ""),
    ({**XLSUM, "files": {"ko": str(FIXTURES / "xlsum" / "korean_test.jsonl")}}, "sources[0].files.ko: ko is not among languages", ""),
    ({**XLSUM, "files": {"xx": "a.tsv"}}, "sources[0].files.xx: not a key of files", ""),
    ({**XLSUM, "revision": "abc123"}, "sources[0].revision: pins a hub dataset", ""),
    ({**XLSUM, "dataset": "generic"}, "sources[0].task: a generic source needs a task", ""),
    ({**XLSUM, "dataset": "generic", "task": "SM", "fields": {"prompt": "text"}}, "sources[0].fields: the generic adapter's field mapping has no 'response'", ""),
    ({**XLSUM, "dataset": "generic", "task": "SM", "fields": {"prompt": 5}}, "sources[0].fields.prompt: must be a table of kit field", "got 5"),
    ("xlsum", "sources[0]: must be a table with dataset and role", "got 'xlsum'"),
    (7, "sources[0]: must be a table with dataset and role", "got 7"),
])
def test_a_bad_source_key_is_one_line_naming_the_file_and_key_path(tmp_path: Path, source: Any, key: str, shown: str) -> None:
    _refused(_yaml(tmp_path, source), tmp_path / "out", "data.yaml: ", key, shown)


def test_every_problem_of_the_config_on_one_line_and_the_top_level_keys(tmp_path: Path) -> None:
    config = _yaml(tmp_path, "xlsum", {**XLSUM, "per_lang": "ten"}, seed="x")
    _refused(config, tmp_path / "out", "seed: must be an integer of 0 or more", "got 'x'", "sources[0]: must be a table",
             "sources[1].per_lang: must be a positive integer")
    for text, expected in [("seed: 1.5\nsources: []\n", "seed: must be an integer of 0 or more (every sample derives from it), got 1.5"),
                           ("seed: -1\n", "seed: must be an integer of 0 or more"), ("", "a data config is a table with `seed`"),
                           ("- 1\n", "a data config is a table"), ("sources: {}\n", "sources: must be a non-empty list of sources"),
                           ("sources: []\nextra: 1\n", "extra: unknown key; a data config has seed, sources"),
                           ("sources: [\n", "not valid YAML")]:
        (tmp_path / "data.yaml").write_text(text)
        _refused(tmp_path / "data.yaml", tmp_path / "out", "data.yaml: ", expected)


@pytest.mark.parametrize(("text", "expected"), [
    ('seed = 1.5\n[[sources]]\ndataset = "xlsum"\nrole = "test"\n', "seed: must be an integer of 0 or more (every sample derives from it), got 1.5"),
    ('seed = "3"\n[[sources]]\ndataset = "xlsum"\nrole = "test"\n', "seed: must be an integer of 0 or more (every sample derives from it), got '3'"),
    ('sources = ["xlsum"]\n', "sources[0]: must be a table with dataset and role"),
    ('[[sources]]\ndataset = "xlsum"\nrole = "test"\nper_lang = "ten"\n', "sources[0].per_lang: must be a positive integer"),
    ('[[sources]]\ndataset = "xlsum"\nrole = "test"\nlanguages = 5\n', "sources[0].languages: must be a non-empty list"),
    ("seed = \n", "not valid TOML"),
])
def test_toml_configs_get_the_same_checks(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "data.toml").write_text(text)
    _refused(tmp_path / "data.toml", tmp_path / "out", "data.toml: ", expected)


@pytest.mark.parametrize("name", ["data.yaml", "data.toml"])
def test_a_config_that_is_not_utf8_is_named_with_its_line(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"seed = 0\n# caf\xe9\n" if name.endswith("toml") else b"seed: 0\n# caf\xe9\n")
    _refused(tmp_path / name, tmp_path / "out", f"{name}:2: not UTF-8", "re-encode the file as UTF-8")


@pytest.mark.parametrize("where", ["data/copies/xlsum", "data/xlsum/", "./xlsum", "../xlsum", "xlsum", "C:\\\\xlsum", "copies/xlsum/english_test.jsonl", "mine.json", "~/no-such-xlsum"])
def test_a_path_that_does_not_exist_is_named_and_never_sent_to_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Local: a path that exists, or one not of the form owner/name, or with ./, / or an extension."""
    from clt_kit.sources import build

    def no_hub(*args: object) -> None:
        raise AssertionError(f"{where} was sent to the hub")

    monkeypatch.setattr(build, "hub_rows", no_hub)
    monkeypatch.chdir(tmp_path)
    err = _refused(_yaml(tmp_path, {**XLSUM, "from": where}), tmp_path / "out", "data.yaml: sources[0].from: ", f"{where}: no such file or folder")
    if not where.startswith("~"):
        assert "a hub id has the form owner/name" in err


def test_an_owner_name_id_that_the_hub_cannot_give_is_one_line(tmp_path: Path) -> None:
    """owner/name with no such local folder is a hub id; the hub's failure (offline here) is one line."""
    config = _yaml(tmp_path, {"dataset": "xlsum", "role": "test", "from": "no-such-owner/no-such-dataset", "languages": ["en"]})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([sys.executable, "-m", "clt_kit.cli", "data", str(config), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    line = _error_line(done.stderr)
    assert done.returncode == 2, done.stderr[-3000:]
    assert line.startswith("error: no-such-owner/no-such-dataset: cannot load it from the Hugging Face hub") and "a local copy" in line
    assert not (tmp_path / "out").exists()


def test_missing_or_bad_exemplars_are_named_before_anything_is_read(tmp_path: Path) -> None:
    mgsm = {"dataset": "mgsm", "role": "test", "from": str(FIXTURES / "mgsm"), "languages": ["en"], "shots": 2}
    _refused(_yaml(tmp_path, {**mgsm, "exemplars": str(tmp_path / "nope.json")}), tmp_path / "out",
             "data.yaml: sources[0].exemplars: ", "nope.json: no such file or folder")
    pt = {**mgsm, "languages": ["pt"], "files": {"pt": str(FIXTURES / "mgsm" / "mgsm_pt.tsv")}}  # MGSM ships no pt exemplars
    _refused(_yaml(tmp_path, pt), tmp_path / "out", "data.yaml: sources[0].exemplars: the kit's exemplars: 0 worked examples for pt, 2 needed")
    bad = tmp_path / "ex.json"
    for content, expected in [(b'{"en": {"1": "Question: 1+1?"}}', "ex.json: en.1: a worked example is"),
                              (b'{"en": [1]}', "ex.json: en: worked examples are an object"), (b"[1]", "ex.json: exemplars are a JSON object"),
                              (b'{"en": {"1": {"q": "Q\xff: x", "a": "A: y"}}}', "ex.json:1: not UTF-8"), (b"{", "ex.json:1: not valid JSON"),
                              (b'{"en": {"1": {"q": "Q: x", "a": "A: y"}}}', "ex.json: 1 worked examples for en, 2 needed")]:
        bad.write_bytes(content)
        _refused(_yaml(tmp_path, {**mgsm, "exemplars": str(bad)}), tmp_path / "out", expected)


def test_two_sources_of_the_same_dataset_and_role_are_refused_before_reading(tmp_path: Path) -> None:
    _refused(_yaml(tmp_path, XLSUM, {**XLSUM, "languages": ["ko"]}), tmp_path / "out",
             "data.yaml: sources[1]: a second xlsum test source (sources[0] is one)")


# -- the examples: the data files ----------------------------------------------------------

def _mgsm_copy(tmp_path: Path, en: bytes) -> dict[str, Any]:
    local = tmp_path / "mgsm"
    local.mkdir(exist_ok=True)
    (local / "mgsm_en.tsv").write_bytes(en)
    return {"dataset": "mgsm", "role": "test", "from": str(local), "languages": ["en"], "shots": 0}


def test_data_files_that_are_not_utf8_are_named_with_file_and_line(tmp_path: Path) -> None:
    tsv = _mgsm_copy(tmp_path, "Question one?\t3\nQuestion d\u00e9ux?\t4\n".encode("latin-1"))
    _refused(_yaml(tmp_path, tsv), tmp_path / "out", "mgsm_en.tsv:2: not UTF-8", "re-encode the file as UTF-8")
    rows = [{"id": "1", "conversations": [{"from": "human", "value": "Écris un poème"}, {"from": "gpt", "value": "Voilà"}]}]
    (tmp_path / "chat.json").write_bytes(json.dumps(rows, ensure_ascii=False).encode("latin-1"))
    chat = {"dataset": "sharegpt", "role": "train", "from": str(tmp_path / "chat.json"), "languages": ["fr"]}
    _refused(_yaml(tmp_path, chat), tmp_path / "out", "chat.json:1: not UTF-8")
    (tmp_path / "chat.jsonl").write_bytes(b"\n".join(json.dumps(r, ensure_ascii=False).encode("latin-1") for r in rows))
    _refused(_yaml(tmp_path, {**chat, "from": str(tmp_path / "chat.jsonl")}), tmp_path / "out", "chat.jsonl:1: invalid UTF-8")


def test_a_byte_order_mark_is_dropped_from_tsv_json_and_jsonl(tmp_path: Path) -> None:
    tsv = _mgsm_copy(tmp_path, "\ufeffQuestion one?\t3\nQuestion two?\t4\n".encode())
    code, _, err = _run(_yaml(tmp_path, tsv), tmp_path / "out")
    assert code == 0, err
    assert sorted(i["prompt"] for i in read_jsonl(tmp_path / "out" / "MR" / "test.jsonl")) == ["Question one?", "Question two?"]
    rows = [{"id": str(i), "lang": "fr", "conversations": [{"from": "human", "value": f"Écris le poème {i}"}, {"from": "gpt", "value": "Voilà"}]}
            for i in range(2)]
    for name, body in [("chat.json", json.dumps(rows, ensure_ascii=False)), ("chat.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows))]:
        (tmp_path / name).write_text("\ufeff" + body, encoding="utf-8")
        code, _, err = _run(_yaml(tmp_path, {"dataset": "sharegpt", "role": "train", "from": str(tmp_path / name)}), tmp_path / name.replace(".", "-"))
        assert code == 0, err
        assert sorted(i["source_id"] for i in read_jsonl(tmp_path / name.replace(".", "-") / "IF" / "train.jsonl")) == ["0#0", "1#0"]


@pytest.mark.parametrize(("name", "body"), [("mgsm_en.tsv", b""), ("chat.json", b"[]"), ("chat.jsonl", b"\n\n")])
def test_an_empty_source_file_is_an_error_naming_it_and_the_stored_data_is_kept(tmp_path: Path, name: str, body: bytes) -> None:
    out = tmp_path / "out"
    (out / "SM").mkdir(parents=True)
    (out / "SM" / "train.jsonl").write_text('{"kept": true}\n')
    if name.endswith(".tsv"):
        source = _mgsm_copy(tmp_path, body)
    else:
        (tmp_path / name).write_bytes(body)
        source = {"dataset": "sharegpt", "role": "train", "from": str(tmp_path / name)}
    _refused(_yaml(tmp_path, source), out, f"{name}: no rows in this file")
    assert (out / "SM" / "train.jsonl").read_text() == '{"kept": true}\n'


def test_a_source_that_yields_no_items_is_an_error(tmp_path: Path) -> None:
    """mCoT-MATH has no Korean: a source of none of its languages would give an empty train.jsonl."""
    _refused(_yaml(tmp_path, {"dataset": "mcot_math", "role": "train", "from": str(FIXTURES / "mcot_math"), "languages": ["ko"]}),
             tmp_path / "out", "mcot_math (train)", "no items in ko", "other_language")


@pytest.mark.parametrize(("turns", "expected"), [
    (["Hello there", "Hi"], "record 0: conversations[0] is str 'Hello there', not a turn"),
    ([{"from": "human", "value": "Hello"}, 5], "record 0: conversations[1] is int"),
    ([{"from": "human", "value": ["Hello"]}, {"from": "gpt", "value": "Hi"}], "record 0: conversations[0] is dict"),
    ("Hello", "record 0: 'conversations' is a str, not a list of turns"),
])
def test_sharegpt_turns_that_are_not_turns_are_named(tmp_path: Path, turns: Any, expected: str) -> None:
    (tmp_path / "chat.json").write_text(json.dumps([{"id": "1", "lang": "en", "conversations": turns}]))
    _refused(_yaml(tmp_path, {"dataset": "sharegpt", "role": "train", "from": str(tmp_path / "chat.json")}), tmp_path / "out",
             f"chat.json:{expected}")


@pytest.mark.parametrize("field", ["text", "summary"])
def test_a_row_field_that_is_not_text_is_named_with_its_line(tmp_path: Path, field: str) -> None:
    copy = tmp_path / "xlsum"
    shutil.copytree(FIXTURES / "xlsum", copy)
    lines = (copy / "english_test.jsonl").read_text().splitlines()
    row = json.loads(lines[2])
    row[field] = 12
    lines[2] = json.dumps(row)
    (copy / "english_test.jsonl").write_text("\n".join(lines) + "\n")
    _refused(_yaml(tmp_path, {**XLSUM, "from": str(copy)}), tmp_path / "out", f"english_test.jsonl:3: field '{field}' is int")


# -- Hypothesis: random values at every key of the schema -------------------------------------------

VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                      max_leaves=6)
# Each key of the schema and what it must be ("int": an integer, not a bool; "text"; "list"; "table").
KINDS = {"seed": "int", "sources": "list", "dataset": "text", "role": "text", "from": "text", "languages": "list", "per_lang": "int",
         "files": "table", "revision": "text", "task": "text", "fields": "table", "lang": "text", "shots": "int", "exemplars": "text",
         "columns": "list"}
ALL_KEYS = sorted(KINDS)


def test_the_random_tests_cover_every_key_of_the_schema() -> None:
    schema = set(_Config.model_fields) | {f.alias or name for name, f in _Source.model_fields.items()}
    assert schema == set(KINDS)


def _config_with(tmp: Path, key: str, value: Any) -> Path:
    if key in ("seed", "sources"):
        raw = {"seed": 0, "sources": [XLSUM], key: value}
    else:
        raw = {"seed": 0, "sources": [{**XLSUM, key: value}]}
    path = tmp / "data.yaml"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def _wrong_kind(kind: str, value: Any) -> bool:
    return {"int": lambda v: not isinstance(v, int) or isinstance(v, bool), "text": lambda v: not isinstance(v, str),
            "list": lambda v: not isinstance(v, list), "table": lambda v: not isinstance(v, dict)}[kind](value)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key=st.sampled_from(ALL_KEYS), value=VALUES)
@example(key="fields", value={"\x85": None})  # a key that is a line break of its own: shown escaped, on the one line
@example(key="from", value="./x\n")
def test_any_value_of_any_key_builds_or_is_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: Any) -> None:
    """Whatever a key holds, `clt-kit data` writes the data (exit 0) or says one `error:` line (exit 2);
    a value of the wrong type is named with the config file and its key path."""
    assume(not (key == "from" and isinstance(value, str) and HUB_ID.fullmatch(value)))  # a hub id: not offline
    tmp = Path(tempfile.mkdtemp(dir=tmp_path))
    monkeypatch.chdir(tmp)
    code, _, err = _run(_config_with(tmp, key, value), tmp / "out")
    assert code in (0, 2), (code, err)
    if code == 2:
        err = _error_line(err)
        assert not (tmp / "out").exists()
    if _wrong_kind(KINDS[key], value) and not (value is None and key not in ("dataset", "role", "sources")):
        path = key if key in ("seed", "sources") else f"sources[0].{key}"
        assert code == 2 and f"data.yaml: {path}" in err, (value, err)
