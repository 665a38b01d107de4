"""The datasets of the paper scale, each as one `Adapter`: where it lives, how its language codes map
to the kit's, which fields a row has and how a row becomes a kit item ({id, lang, task, prompt,
response} plus MR's integer `answer`). The schemas are the datasets' own (their cards and
repositories); tests/data/sources/ holds a small file of each in exactly that shape.

Choices the paper does not state, and so made here (each overridable through the generic adapter):
an XL-Sum prompt is the kit's summarization instruction in the article's language followed by the
article (the lexicon's `sm.prompt`); an MR prompt is the question as the dataset writes it; IF
prompts are the user's turn as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clt_kit.jsonio import InputError
from clt_kit.sources.read import decoded_text
from clt_kit.world.lexicon import load

Item = dict[str, Any]

# XL-Sum's configs (one per language) for the study's languages: the names its card lists.
XLSUM_CONFIGS = {"ar": "arabic", "en": "english", "es": "spanish", "fr": "french", "ja": "japanese",
                 "ko": "korean", "pt": "portuguese", "zh": "chinese_simplified"}
# The Aya evaluation suite's `language` field is ISO 639-3.
ISO_639_3 = {"arb": "ar", "eng": "en", "spa": "es", "fra": "fr", "jpn": "ja", "kor": "ko", "por": "pt", "zho": "zh"}
# MGSM's languages are its file names' codes (mgsm_<code>.tsv): the study's pt, ko and ar are not
# among them (the paper machine-translated those itself and did not release them).
MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")


@dataclass(frozen=True)
class Exemplars:
    """Worked examples that ship with the kit (package data): the file, in the shape of MGSM's
    `MGSM_EXEMPLARS` ({lang: {"1": {"q", "a"}, ...}}), where it comes from and its license (the
    file beside it, <name>.md, says how it was made)."""

    path: Path
    source: str
    license: str

    def record(self) -> dict[str, str]:
        from clt_kit.prep.core import sha256_file

        return {"path": f"clt_kit/sources/{self.path.name}", "sha256": sha256_file(str(self.path)), "source": self.source,
                "license": self.license}


MGSM_EXEMPLARS = Exemplars(
    Path(__file__).with_name("mgsm_exemplars.json"),
    source="google-research/url-nlp, mgsm/exemplars.py (MGSM_EXEMPLARS) at commit 452a21ad3dae5668c06ceeac21ff073e1e40f9be",
    license="CC BY 4.0",
)


@dataclass(frozen=True)
class Adapter:
    """One dataset of the study and how its rows become kit items."""

    name: str
    task: str
    splits: Mapping[str, str]  # role ("train" or "test") -> the dataset's split
    hub: str | None  # the dataset's hub id (None: no public copy; a local file is needed)
    fields: tuple[str, ...]  # what each row must have
    to_item: Callable[[dict[str, Any], str], Item]  # (row, kit language) -> prompt, response (and answer); id from source_id
    # Languages: either one hub config per language, or one config whose rows say their language.
    configs: Mapping[str, str] | None = None
    config: str | None = None
    lang_of: Callable[[dict[str, Any]], str | None] | None = None
    # A local copy: glob patterns under its folder ({config} and {split} filled in), first match wins.
    local: tuple[str, ...] = ("**/*",)
    tsv_columns: tuple[str, ...] = ()
    per_lang: Mapping[str, int] = field(default_factory=dict)  # role -> the paper's items per language (seeded sample)
    shots: int = 0  # worked examples put before each test prompt (the paper: 8 for MGSM)
    note: str = ""
    # Items that are translations of one another (a parallel test set), and how to tell which:
    # "position" (the n-th row of every language's file is the same problem) or a row field naming
    # the source item; a sample then keeps the same source items in every language. None: not parallel.
    parallel: str | None = None
    exemplars: Exemplars | None = None  # worked examples shipped with the kit (a data config's `exemplars` adds to them)

    def split(self, role: str) -> str:
        if role not in self.splits:
            raise InputError(f"dataset {self.name!r} has no {role} data; it gives {', '.join(self.splits)}")
        return self.splits[role]


def _text(row: dict[str, Any], key: str) -> str:
    """A row's text field, or InputError saying what it holds instead."""
    value = row[key]
    if not isinstance(value, str):
        raise InputError(f"field {key!r} is {type(value).__name__} {str(value)[:40]!r}, not text; is this a copy of the dataset?")
    return value


def _sm_prompt(lang: str, text: str) -> str:
    return str(load(lang)["sm"]["prompt"]).format(doc=text.strip())


def _xlsum(row: dict[str, Any], lang: str) -> Item:
    return {"source_id": row["id"], "prompt": _sm_prompt(lang, _text(row, "text")), "response": _text(row, "summary").strip()}


def _mcot_lang(row: dict[str, Any]) -> str | None:
    code, sep, _ = str(row["lang-id"]).partition("-")
    return code if sep else None


def _mcot(row: dict[str, Any], lang: str) -> Item:
    return {"source_id": row["lang-id"], "prompt": _text(row, "question").strip(), "response": _text(row, "answer").strip()}


def _integer(value: Any, what: str) -> int:
    text = str(value).strip().replace(",", "")
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"{what} {value!r} is not a number") from None
    if number != int(number):
        raise InputError(f"{what} {value!r} is not an integer")
    return int(number)


def _mgsm(row: dict[str, Any], lang: str) -> Item:
    return {"source_id": _text(row, "question")[:64], "prompt": row["question"].strip(), "response": "",
            "answer": _integer(row["answer_number"], "answer_number")}


def _aya_lang(row: dict[str, Any]) -> str | None:
    return ISO_639_3.get(str(row["language"]))


def _aya(row: dict[str, Any], lang: str) -> Item:
    return {"source_id": row["id"], "prompt": _text(row, "inputs").strip(), "response": _text(row, "targets").strip() if row.get("targets") else ""}


def _sharegpt(row: dict[str, Any], lang: str) -> Item:
    """The first user turn and the reply that follows it."""
    turns = row["conversations"]
    if not isinstance(turns, list):
        raise InputError(f"'conversations' is a {type(turns).__name__}, not a list of turns")
    for i, turn in enumerate(turns):
        if not (isinstance(turn, dict) and isinstance(turn.get("from"), str) and isinstance(turn.get("value"), str)):
            raise InputError(f"conversations[{i}] is {type(turn).__name__} {str(turn)[:40]!r}, not a turn"
                             " {\"from\": \"human\" or \"gpt\", \"value\": <text>}")
    for i, (turn, reply) in enumerate(zip(turns, turns[1:])):
        if turn["from"] in ("human", "user") and reply["from"] in ("gpt", "assistant", "chatgpt"):
            return {"source_id": f"{row.get('id', '')}#{i}", "prompt": turn["value"].strip(), "response": reply["value"].strip()}
    raise InputError("no user turn followed by a reply ('from': 'human' then 'gpt')")


ADAPTERS: dict[str, Adapter] = {a.name: a for a in (
    Adapter(
        name="xlsum", task="SM", splits={"train": "train", "test": "test"}, hub="csebuetnlp/xlsum",
        fields=("id", "summary", "text"), to_item=_xlsum, configs=XLSUM_CONFIGS,
        # the release's files (<config>_train.jsonl, _val, _test) or the hub's Parquet export
        local=("{config}_{split}.jsonl", "{config}/{split}/*.parquet", "{config}/xlsum-{split}.parquet"),
        per_lang={"test": 250},
    ),
    Adapter(
        name="mcot_math", task="MR", splits={"train": "train"}, hub="laihuiyuan/mCoT-MATH",
        fields=("lang-id", "question", "answer"), to_item=_mcot, lang_of=_mcot_lang,
        note="machine-translated from English; no ar, ko or pt (the study's unseen languages need none)",
    ),
    Adapter(
        name="mgsm", task="MR", splits={"test": "test"}, hub=None,
        fields=("question", "answer_number"), to_item=_mgsm, configs={lang: lang for lang in MGSM_LANGUAGES},
        local=("mgsm_{config}.tsv",), tsv_columns=("question", "answer_number"), shots=8, parallel="position",
        exemplars=MGSM_EXEMPLARS,
        note="the url-nlp release's mgsm_<lang>.tsv files; the paper's pt, ko and ar test sets were machine-translated"
             " by its authors and not released: give your own file per language (`files`), in the same two columns;"
             " the 8-shot prompts' worked examples are the release's (shipped with the kit); for the languages it"
             " lacks give yours in `exemplars` (a JSON file in the shape of its MGSM_EXEMPLARS)",
    ),
    Adapter(
        name="aya_dolly", task="IF", splits={"test": "test"}, hub="CohereForAI/aya_evaluation_suite",
        config="dolly_machine_translated", fields=("id", "inputs", "language"), to_item=_aya, lang_of=_aya_lang,
        local=("{config}/{split}-*.parquet", "**/*"), per_lang={"test": 200}, parallel="source_id",
        note="open-ended prompts without verifiable instructions: scored by the LLM judge",
    ),
    Adapter(
        name="sharegpt", task="IF", splits={"train": "train"}, hub=None,
        fields=("conversations",), to_item=_sharegpt,
        note="ShareGPT-style conversations (a local file); the language is a row's `lang` or `language` field,"
             " else the kit's language identifier's reading of the prompt",
    ),
)}


def few_shot_label(text: str) -> str:
    """The label a worked example's question or answer starts with ("Question: ", "問題："): up to
    its first colon, with the space after an ASCII one."""
    cut = min((i for i in (text.find(":"), text.find("：")) if i >= 0), default=-1)
    if cut < 0:
        raise InputError(f"the exemplar {text[:40]!r} does not start with a label ending in ':'")
    return text[: cut + 1] + (" " if text[cut] == ":" else "")


def few_shot_prompt(shots: list[dict[str, str]], question: str) -> str:
    """MGSM's native chain-of-thought prompt: each worked example ("q" and "a", each starting with
    its language's label, e.g. "問題：" and "ステップごとの答え："), then the question under the same
    labels, the answer left to the model."""
    blocks = [f"{s['q'].strip()}\n{s['a'].strip()}" for s in shots]
    return "\n\n".join([*blocks, f"{few_shot_label(shots[0]['q'])}{question}\n{few_shot_label(shots[0]['a']).rstrip()}"])


def few_shot_stop(shots: list[dict[str, str]]) -> list[str]:
    """A few-shot prompt's stop strings: the question label, where a model that answered goes on
    to write the next question (lm-evaluation-harness's `until` for MGSM: "Question:", "問題：")."""
    return [few_shot_label(shots[0]["q"]).strip()]


def read_exemplars(path: Path | None, languages: Sequence[str], shots: int, shipped: Path | None = None) -> dict[str, list[dict[str, str]]]:
    """The first `shots` worked examples of each language, from the config's file `path` where it
    gives the language, else from the file the kit ships for the dataset (`shipped`); both in
    MGSM's own shape, {lang: {"1": {"q": ..., "a": ...}, ...}} (in the order of their keys: "1",
    "2", ..., "10"). InputError names the file, the entry and the fix."""
    given = _exemplar_file(path) if path is not None else {}
    kit = _exemplar_file(shipped) if shipped is not None else {}
    out = {}
    for lang in languages:
        where, examples = (str(path), given[lang]) if lang in given else ("the kit's exemplars" if shipped else "no exemplars file", kit.get(lang, {}))
        if len(examples) < shots:
            raise InputError(f"{where}: {len(examples)} worked examples for {lang}, {shots} needed; give {shots} for {lang} in `exemplars` (a JSON"
                             f" file {{\"{lang}\": {{\"1\": {{\"q\": ..., \"a\": ...}}, ...}}}}), set shots: {len(examples)}"
                             f" or leave {lang} out of languages")
        out[lang] = [examples[k] for k in sorted(examples, key=lambda k: (len(k), k))][:shots]
    return out


def _exemplar_file(path: Path) -> dict[str, dict[str, dict[str, str]]]:
    """A file of worked examples per language, checked: every entry {"q": <text>, "a": <text>}."""
    if not path.is_file():
        raise InputError(f"{path}: no such file; exemplars are a JSON file of worked examples per language")
    shape = '{lang: {"1": {"q": <text>, "a": <text>}, ...}}'
    try:
        exemplars = json.loads(decoded_text(path.read_bytes(), path))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); exemplars are {shape}") from None
    if not isinstance(exemplars, dict):
        raise InputError(f"{path}: exemplars are a JSON object {shape}, not a {type(exemplars).__name__}")
    for lang, given in exemplars.items():
        if not isinstance(given, dict):
            raise InputError(f"{path}: {lang}: worked examples are an object {shape}, not a {type(given).__name__}")
        for key, shot in given.items():
            if not (isinstance(shot, dict) and isinstance(shot.get("q"), str) and isinstance(shot.get("a"), str)):
                raise InputError(f"{path}: {lang}.{key}: a worked example is {{\"q\": <text>, \"a\": <text>}}, not {str(shot)[:40]!r}")
    return exemplars


def get_adapter(name: str) -> Adapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise InputError(f"unknown dataset adapter {name!r}; choose one of {', '.join(sorted(ADAPTERS))} or 'generic'") from None


def generic_adapter(task: str, fields: Mapping[str, str], lang: str | None = None, columns: tuple[str, ...] = ()) -> Adapter:
    """Any dataset, by a field mapping: kit field (prompt, response, and lang unless every row is in
    `lang`; optional id, answer for MR) -> the dataset's field. `columns`: the column names of a
    TSV file without a header line (MGSM's shape); a TSV file without them has a header line."""
    for needed in ("prompt", "response", *(() if lang else ("lang",))):
        if needed not in fields:
            raise InputError(f"the generic adapter's field mapping has no {needed!r} (it maps {dict(fields)});"
                             f" add {needed} = \"<the dataset's field>\"")
    unknown = sorted(set(fields) - {"prompt", "response", "lang", "id", "answer"})
    if unknown:
        raise InputError(f"the generic adapter maps prompt, response, lang, id and answer; not {unknown}")

    def to_item(row: dict[str, Any], row_lang: str) -> Item:
        item = {"source_id": row.get(fields.get("id", ""), ""), "prompt": str(row[fields["prompt"]]).strip(),
                "response": str(row[fields["response"]] or "").strip()}
        if "answer" in fields:
            item["answer"] = _integer(row[fields["answer"]], fields["answer"])
        return item

    lang_of = None if lang else (lambda row: str(row[fields["lang"]]))
    return Adapter(name="generic", task=task, splits={"train": "train", "test": "test"}, hub=None,
                   fields=tuple(v for k, v in fields.items() if k in ("prompt", "response", "lang")),
                   to_item=to_item, lang_of=lang_of, config=None, tsv_columns=tuple(columns))
