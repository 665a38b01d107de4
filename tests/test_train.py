"""SFT options: packing keeps examples apart and gives the loss of the unpacked batch; LoRA trains
adapters and returns a merged plain model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from clt_kit.jsonio import read_jsonl
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.scales import SMOKE, ModelSize
from clt_kit.train.model import build_model
from clt_kit.train.pretrain import ensure_base_model
from clt_kit.train.sft import IGNORE, LoraSpec, collate, pack, sft
from clt_kit.world import generate_world

SIZE = ModelSize("t", "llama", hidden=32, layers=2, heads=2, intermediate=64)


def _examples(n: int, seed: int) -> list[tuple[list[int], list[int]]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        p, r = int(torch.randint(3, 12, (1,), generator=g)), int(torch.randint(2, 10, (1,), generator=g))
        ids = torch.randint(3, 100, (p + r,), generator=g).tolist()
        out.append((ids, [IGNORE] * p + ids[p:]))
    return out


def test_pack_puts_examples_end_to_end_with_restarting_positions() -> None:
    examples = _examples(12, 0)
    batch = pack(examples, 40, pad_id=0)
    assert batch["input_ids"].shape[0] < len(examples)
    n_tokens = sum(len(ids) for ids, _ in examples)
    assert int((batch["labels"] != IGNORE).sum()) == sum(sum(1 for x in labs if x != IGNORE) for _, labs in examples)
    assert int((batch["position_ids"] == 0).sum()) >= len(examples)
    assert batch["input_ids"].numel() - n_tokens < collate(examples, 0)["input_ids"].numel() - n_tokens


def test_packed_loss_and_logits_equal_the_unpacked_ones() -> None:
    """No attention across packed examples: each example's logits are those it gets alone."""
    model = build_model(SIZE, 100, 64, seed=0)
    model.train()  # as the training loop calls it (no dropout in these models; no KV cache)
    examples = _examples(8, 1)
    with torch.no_grad():
        packed = model(**pack(examples, 40, pad_id=0), use_cache=False)
        padded = model(**collate(examples, 0), use_cache=False)
    assert torch.allclose(packed.loss, padded.loss, atol=1e-5)
    # the first example sits at the start of the first packed row: its logits match its own run
    ids = examples[0][0]
    with torch.no_grad():
        alone = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
    second_start = len(ids)
    second = examples[1][0] if len(ids) + len(examples[1][0]) <= 40 else None
    assert torch.allclose(packed.logits[0, : len(ids)], alone, atol=1e-5)
    if second is not None:
        with torch.no_grad():
            alone2 = model(input_ids=torch.tensor([second]), use_cache=False).logits[0]
        assert torch.allclose(packed.logits[0, second_start : second_start + len(second)], alone2, atol=1e-5)


@pytest.fixture(scope="module")
def smoke_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("smoke")
    world = generate_world(root / "world", 0, SMOKE)
    base = ensure_base_model(SMOKE.models[0], world, SMOKE, 0, root / "models")
    build_mixture(MixtureSpec("SM", SMOKE.english_train, 4, 0), world.train("SM"), world.test("SM"), root / "mix", lenient=True)
    return base, read_jsonl(root / "mix" / "mixture.jsonl")


@pytest.mark.slow
def test_lora_trains_adapters_and_returns_a_merged_plain_model(smoke_setup: tuple[Path, list[dict]]) -> None:
    base, records = smoke_setup
    full = sft(base, records, SMOKE, 0)
    tuned = sft(base, records, SMOKE, 0, lora=LoraSpec(rank=4, alpha=8))
    again = sft(base, records, SMOKE, 0, lora=LoraSpec(rank=4, alpha=8))
    assert tuned.weights_sha256 == again.weights_sha256  # deterministic
    assert tuned.trainable_parameters < full.trainable_parameters / 5
    assert type(tuned.model) is type(full.model)  # merged: no peft wrapper left
    before = AutoModelForCausalLM.from_pretrained(base).state_dict()
    after = tuned.model.state_dict()
    assert set(after) == set(before)
    assert torch.equal(after["model.embed_tokens.weight"], before["model.embed_tokens.weight"])  # not adapted
    assert not torch.equal(after["model.layers.0.self_attn.q_proj.weight"], before["model.layers.0.self_attn.q_proj.weight"])


@pytest.mark.slow
def test_packed_sft_is_deterministic_and_close_to_unpacked(smoke_setup: tuple[Path, list[dict]]) -> None:
    base, records = smoke_setup
    plain = sft(base, records, SMOKE, 0)
    packed = sft(base, records, SMOKE, 0, packing=True)
    assert packed.weights_sha256 == sft(base, records, SMOKE, 0, packing=True).weights_sha256
    # the same examples make each step: the training losses agree up to float summation order
    assert packed.train_losses == pytest.approx(plain.train_losses, rel=1e-3)
