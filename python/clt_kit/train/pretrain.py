"""Pretraining the tiny base models on the world corpus, cached under the hash of all inputs."""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from clt_kit import __version__
from clt_kit.integrity import check_files, hash_files
from clt_kit.jsonio import InputError, canonical, publish_dir, read_json, read_jsonl, write_json
from clt_kit.languages import ENGLISH
from clt_kit.scales import ModelSize, PretrainConfig
from clt_kit.seeding import derive_seed
from clt_kit.train.loop import Batch, optimize
from clt_kit.train.model import build_model, init_std, set_determinism, weights_hash
from clt_kit.train.tokenizer import TOKENIZER_FORMAT, train_tokenizer
from clt_kit.world.generate import WorldPaths


# The mini scale's base models, shipped with the package (see ensure_base_model).
BUNDLED = Path(__file__).with_name("bases")
# The record in a base model's folder: its key, the sha256 of every other file, the weights' hash.
BASE_RECORD = "base.json"
TOKENIZER_RECORD = "key.json"
log = logging.getLogger("clt_kit")


def _key_hash(key: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(key).encode()).hexdigest()[:16]


def ensure_tokenizer(world: WorldPaths, config: PretrainConfig, cache: Path) -> Path:
    """The tokenizer trained on the world corpus (cached)."""
    corpus_sha = read_json(world.manifest)["files"]["corpus.jsonl"]
    key = {"kind": "tokenizer", "format": TOKENIZER_FORMAT, "corpus": corpus_sha, "vocab_size": config.vocab_size, "code": __version__}
    final = cache / f"tokenizer-{_key_hash(key)}"
    if (final / TOKENIZER_RECORD).exists() and _reusable(final, TOKENIZER_RECORD, "tokenizer"):
        return final
    texts = [row["text"] for row in read_jsonl(world.corpus)]
    with publish_dir(final) as tmp:
        train_tokenizer(texts, config.vocab_size).save_pretrained(tmp)
        write_json(tmp / TOKENIZER_RECORD, {**key, "files": hash_files(tmp)})
    return final


def tokenizer_key(tok_dir: Path) -> dict[str, Any]:
    """What determines a tokenizer (its record without the file hashes)."""
    return {k: v for k, v in read_json(tok_dir / TOKENIZER_RECORD).items() if k != "files"}


def _reusable(folder: Path, record: str, what: str) -> bool:
    """Whether a cached folder still holds the files its record names; else it is made again, and
    the log says which file changed (or that the record, from an earlier kit, names none)."""
    recorded = read_json(folder / record).get("files")
    if recorded is None:
        log.warning("%s: records no file hashes (made by an earlier kit); making the cached %s again", folder / record, what)
        return False
    if problems := check_files(folder, recorded, f"cached {what}", record):
        log.warning("%s; making it again", "; ".join(problems))
        return False
    return True


def pretraining_corpus(world: WorldPaths, size: ModelSize, seed: int) -> list[dict[str, Any]]:
    """The corpus lines `size` is pretrained on, in corpus order: the whole world corpus, or, when
    the size asks for a larger English share than the corpus has, every English line and the
    non-English lines with the smallest tickets (a hash of seed, model and line id), as many as
    make that share."""
    rows = read_jsonl(world.corpus)
    if size.english_share is None:
        return rows
    if not 0 < size.english_share <= 1:
        raise ValueError(f"model {size.name}: english_share must be in (0, 1], got {size.english_share}")
    others = [row for row in rows if row["lang"] != ENGLISH]
    n_english = len(rows) - len(others)
    keep = round(n_english * (1 - size.english_share) / size.english_share)
    if keep > len(others):
        raise ValueError(
            f"model {size.name}: english_share {size.english_share} is below the corpus's own"
            f" ({n_english}/{len(rows)}); a model can only be pretrained on less non-English text than the world has"
        )
    kept = {row["id"] for row in sorted(others, key=lambda row: derive_seed(seed, "pretraining-corpus", size.name, row["id"]))[:keep]}
    return [row for row in rows if row["lang"] == ENGLISH or row["id"] in kept]


def language_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(row["lang"] for row in rows).items()))


def _corpus_blocks(rows: list[dict[str, Any]], tokenizer: PreTrainedTokenizerFast, seq_len: int, source: Path) -> torch.Tensor:
    """The corpus lines as one token stream (separated by EOS), cut into blocks of `seq_len`."""
    ids: list[int] = []
    for line in tokenizer([row["text"] for row in rows], add_special_tokens=False)["input_ids"]:
        ids.extend(line)
        ids.append(tokenizer.eos_token_id)
    n_blocks = len(ids) // seq_len
    if n_blocks == 0:
        raise ValueError(f"{source}: the corpus has {len(ids)} tokens, fewer than one block of {seq_len}")
    return torch.tensor(ids[: n_blocks * seq_len]).view(n_blocks, seq_len)


def _random_batches(blocks: torch.Tensor, batch: int, seed: int) -> Iterator[list[Batch]]:
    generator = torch.Generator().manual_seed(seed)
    while True:
        rows = blocks[torch.randint(len(blocks), (batch,), generator=generator)]
        yield [{"input_ids": rows, "labels": rows}]


def base_key(size: ModelSize, tokenizer_key: dict[str, Any], world: WorldPaths, config: PretrainConfig, seed: int) -> dict[str, Any]:
    """Everything that determines a base model's weights (its cache folder is named by its hash).
    The names under "pretrain" are those the bundled bases were keyed with."""
    return {
        "kind": "base-model",
        "size": asdict(size),
        "init_std": init_std(size.hidden),  # bases from before init_std were drawn at 0.02: other keys
        "tokenizer": tokenizer_key,
        "world": {"scale": read_json(world.manifest)["scale"], "seed": seed},
        "pretrain": {"seq_len": config.seq_len, "pretrain_steps": config.steps, "pretrain_batch": config.batch,
                     "pretrain_lr": config.lr, "cpu_threads": config.cpu_threads},
        "seed": seed,
        "code": __version__,
    }


def ensure_base_model(
    size: ModelSize, world: WorldPaths, config: PretrainConfig, seed: int, cache: Path, progress: bool = False,
    from_scratch: bool = False,
) -> Path:
    """A pretrained base model of `size` (directory with weights, tokenizer and base.json), cached.

    The mini scale's base models ship with the package (BUNDLED, each under its key's hash): a
    matching one is copied into the cache (its weights hash checked) instead of pretraining, which
    takes minutes on CPU; `clt-kit verify` rebuilds them bit for bit. `from_scratch` pretrains
    whatever the cache or the package holds."""
    tok_dir = ensure_tokenizer(world, config, cache)
    key = base_key(size, tokenizer_key(tok_dir), world, config, seed)
    final = cache / f"base-{size.name}-{_key_hash(key)}"
    if not from_scratch and (final / BASE_RECORD).exists() and _reusable(final, BASE_RECORD, "base model"):
        return final
    if not from_scratch and (BUNDLED / final.name / BASE_RECORD).exists():
        return _install_bundled(BUNDLED / final.name, final)

    flags = set_determinism(seed, config.cpu_threads)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tok_dir)
    model = build_model(size, len(tokenizer), config.seq_len, seed)
    corpus = pretraining_corpus(world, size, seed)
    blocks = _corpus_blocks(corpus, tokenizer, config.seq_len, world.corpus)
    accelerator = Accelerator()
    losses = optimize(
        model, _random_batches(blocks, config.batch, seed), config.steps, config.lr,
        accelerator, desc=f"pretrain {size.name}", progress=progress, cosine=True,
    )
    model = accelerator.unwrap_model(model)
    with publish_dir(final) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / BASE_RECORD, {
            "key": key, "weights_sha256": weights_hash(model), "final_loss": losses[-1],
            "first_loss": losses[0], "determinism": flags, "corpus_lines": language_counts(corpus),
            "files": hash_files(tmp),
        })
    return final


def _install_bundled(source: Path, final: Path) -> Path:
    with publish_dir(final) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".clt-*"))
        record = read_json(tmp / BASE_RECORD)
        problems = check_files(tmp, record.get("files", {}), "bundled base model", BASE_RECORD)
        if not problems and (actual := stored_weights_hash(tmp)) != record["weights_sha256"]:
            problems = [f"{source}: weights sha256 {actual} but {BASE_RECORD} records {record['weights_sha256']}"]
        if problems:
            raise InputError(f"{'; '.join(problems)}; the bundled model is damaged, reinstall the kit")
    return final


def base_files_problems(base_dir: Path) -> list[str]:
    """Problems of a kit base model's folder against its record (every file's sha256); empty for
    a folder the kit did not make (any saved HF model: it records nothing to check against)."""
    if not (base_dir / BASE_RECORD).is_file():
        return []
    recorded = read_json(base_dir / BASE_RECORD).get("files")
    if recorded is None:
        return [f"{base_dir / BASE_RECORD}: records no file hashes (made by an earlier kit); make it again with `clt-kit pretrain`"]
    return check_files(base_dir, recorded, "base model", BASE_RECORD)


def stored_weights_hash(model_dir: Path) -> str:
    """weights_hash of the model saved in `model_dir` (as loaded: the hash pretraining records)."""
    return weights_hash(AutoModelForCausalLM.from_pretrained(model_dir))


def load_base(path: Path | str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Any causal LM transformers can load: a folder (the kit's base models, or any saved HF model)
    or, at the paper scale, a hub id (downloaded by transformers: the one path that uses the
    network). A tokenizer without a padding token pads with its end-of-sequence token."""
    return AutoModelForCausalLM.from_pretrained(path), load_tokenizer(path)


def load_tokenizer(path: Path | str) -> PreTrainedTokenizerBase:
    """The tokenizer of the model at `path`, as `load_base` gives it."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.eos_token_id is None:
        raise ValueError(f"{path}: the tokenizer has no end-of-sequence token; the kit needs one to end answers")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
