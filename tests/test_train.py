"""SFT options: packing keeps examples apart and gives the loss of the unpacked batch; LoRA trains
adapters and returns a merged plain model."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from clt_kit.jsonio import InputError, read_jsonl
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.scales import SMOKE, ModelSize
from clt_kit.train.loop import cosine_factor, labelled_loss
from clt_kit.train.model import build_model, weights_hash
from clt_kit.train.pretrain import ensure_base_model, language_counts, pretraining_corpus
from clt_kit.train.tokenizer import train_tokenizer
from clt_kit.train.sft import IGNORE, LoraSpec, _share, collate, encode, pack, sft
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
    world = generate_world(root / "world", 0, SMOKE.world, SMOKE.name)
    base = ensure_base_model(SMOKE.models[0], world, SMOKE.pretrain, 0, root / "models")
    build_mixture(MixtureSpec("SM", SMOKE.english_train, 4, 0), world.train("SM"), world.test("SM"), root / "mix", lenient=True)
    return base, read_jsonl(root / "mix" / "mixture.jsonl")


@pytest.mark.slow
def test_lora_trains_adapters_and_returns_a_merged_plain_model(smoke_setup: tuple[Path, list[dict]]) -> None:
    base, records = smoke_setup
    full = sft(base, records, SMOKE.sft, 0)
    tuned = sft(base, records, SMOKE.sft, 0, lora=LoraSpec(rank=4, alpha=8))
    again = sft(base, records, SMOKE.sft, 0, lora=LoraSpec(rank=4, alpha=8))
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
    plain = sft(base, records, SMOKE.sft, 0)
    packed = sft(base, records, SMOKE.sft, 0, packing=True)
    assert packed.weights_sha256 == sft(base, records, SMOKE.sft, 0, packing=True).weights_sha256
    # the same examples make each step: the training losses agree up to float summation order
    assert packed.train_losses == pytest.approx(plain.train_losses, rel=1e-3)


@pytest.mark.parametrize("architecture, model_type", [("cohere", "cohere"), ("llama", "llama")])
def test_each_paper_family_builds_its_own_transformers_class(architecture: str, model_type: str) -> None:
    size = ModelSize("t", architecture, hidden=32, layers=2, heads=2, intermediate=64)
    a, b = build_model(size, 100, 64, seed=3), build_model(size, 100, 64, seed=3)
    assert a.config.model_type == model_type
    assert weights_hash(a) == weights_hash(b) != weights_hash(build_model(size, 100, 64, seed=4))


@pytest.mark.parametrize("architecture", ["cohere", "llama"])
def test_weights_start_at_one_over_the_root_of_the_hidden_size(architecture: str) -> None:
    """Not transformers' 0.02, at which the tiny models barely learn where to attend (init_std)."""
    model = build_model(ModelSize("t", architecture, hidden=64, layers=2, heads=2, intermediate=128), 500, 64, seed=0)
    assert model.config.initializer_range == 0.125
    for name in ("embed_tokens", "layers.0.self_attn.q_proj", "layers.1.mlp.up_proj"):
        weight = model.model.get_submodule(name).weight.detach()
        assert weight.std().item() == pytest.approx(0.125, rel=0.05), name


def test_an_unknown_architecture_is_named() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'gpt9'.*cohere, llama"):
        build_model(ModelSize("t", "gpt9", hidden=32, layers=2, heads=2, intermediate=64), 100, 64, seed=0)


def test_pretraining_lr_warms_up_then_decays_to_a_tenth() -> None:
    factors = [cosine_factor(i, 100) for i in range(100)]
    assert factors[0] == pytest.approx(0.2) and factors[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[4:], factors[5:]))
    assert factors[-1] == pytest.approx(0.1, abs=1e-3)


def test_a_larger_english_share_keeps_all_english_and_fewer_other_lines(smoke_world) -> None:
    rows = read_jsonl(smoke_world.corpus)
    llama = next(m for m in SMOKE.models if m.name == "8b")
    kept = pretraining_corpus(smoke_world, llama, seed=1)
    english = sum(row["lang"] == "en" for row in rows)
    assert sum(row["lang"] == "en" for row in kept) == english
    assert english / len(kept) == pytest.approx(llama.english_share, abs=0.01)
    assert set(language_counts(kept)) == set(language_counts(rows))  # every language keeps some lines
    assert [row["id"] for row in kept] == [row["id"] for row in rows if row["id"] in {k["id"] for k in kept}]
    assert pretraining_corpus(smoke_world, llama, seed=1) == kept
    assert pretraining_corpus(smoke_world, llama, seed=2) != kept
    aya = next(m for m in SMOKE.models if m.name == "7b")
    assert pretraining_corpus(smoke_world, aya, seed=1) == rows
    with pytest.raises(ValueError, match="english_share 0.2 is below the corpus's own"):
        pretraining_corpus(smoke_world, dataclasses.replace(llama, english_share=0.2), seed=1)


def test_numbers_are_the_same_token_after_a_space_and_at_a_line_start(smoke_world) -> None:
    """So that a model copies the prompt's numbers into its worked answer token for token."""
    tokenizer = train_tokenizer([row["text"] for row in read_jsonl(smoke_world.corpus)], SMOKE.pretrain.vocab_size)
    in_prompt = tokenizer("Mia has 8 cards.", add_special_tokens=False)["input_ids"]
    in_answer = tokenizer("8 - 5 = 3.", add_special_tokens=False)["input_ids"]
    in_japanese = tokenizer("ミアは8枚", add_special_tokens=False)["input_ids"]
    eight = tokenizer.convert_tokens_to_ids("8")
    assert eight in in_prompt and eight in in_answer and eight in in_japanese


@pytest.mark.parametrize("architecture", ["cohere", "llama"])
@pytest.mark.parametrize("packed", [False, True])
def test_loss_from_labelled_positions_only_equals_the_full_loss(architecture: str, packed: bool) -> None:
    """The loop projects only the positions with a label onto the vocabulary; the loss and its
    gradient are those of transformers' own loss over all the logits."""
    size = ModelSize("t", architecture, hidden=32, layers=2, heads=2, intermediate=64)
    model = build_model(size, 100, 64, seed=0)
    examples = _examples(8, 2)
    batch = pack(examples, 40, pad_id=0) if packed else collate(examples, 0)
    ours = labelled_loss(model, batch)
    ours.backward()
    ours_grad = model.get_input_embeddings().weight.grad.clone()
    model.zero_grad()
    theirs = model(**batch, use_cache=False).loss
    theirs.backward()
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert torch.allclose(ours_grad, model.get_input_embeddings().weight.grad, atol=1e-6)


@pytest.mark.slow
def test_checkpoint_scores_see_every_checkpoint_and_change_nothing_of_the_training(smoke_setup: tuple[Path, list[dict]], tmp_path: Path) -> None:
    from clt_kit.evaluate.checkpoints import CheckpointScores
    from clt_kit.languages import PAPER_LANGUAGES

    base, records = smoke_setup
    world = generate_world(tmp_path / "world", 0, SMOKE.world, SMOKE.name)
    seen_modes: list[tuple[int, bool]] = []
    scores = CheckpointScores.of({"SM": read_jsonl(world.test("SM"))}, SMOKE.eval, 0)

    def hook(model, tokenizer, step: int) -> None:
        seen_modes.append((step, model.training))
        scores(model, tokenizer, step)

    watched = sft(base, records, SMOKE.sft, 0, on_checkpoint=hook)
    steps = list(range(SMOKE.sft.eval_every, SMOKE.sft.steps + 1, SMOKE.sft.eval_every))
    assert seen_modes == [(step, False) for step in steps]  # every checkpoint, in eval mode
    assert watched.weights_sha256 == sft(base, records, SMOKE.sft, 0).weights_sha256  # the same training with or without
    assert sorted({(r["step"], r["lang"]) for r in scores.rows}) == sorted((s, lang) for s in steps for lang in PAPER_LANGUAGES)
    assert {r["n"] for r in scores.rows} == {SMOKE.eval.dynamics_per_lang} and {r["task"] for r in scores.rows} == {"SM"}


@pytest.mark.slow
def test_gradient_accumulation_matches_the_whole_batch_at_once(smoke_setup: tuple[Path, list[dict]]) -> None:
    """The paper's global batch of 64 is reached by accumulation where memory needs it: micro-batches
    weighted by their labelled tokens give the whole batch's gradient."""
    base, records = smoke_setup
    whole = sft(base, records, SMOKE.sft, 0)
    accumulated = sft(base, records, dataclasses.replace(SMOKE.sft, micro_batch=2), 0)
    assert accumulated.recipe["micro_batch"] == 2 and whole.recipe["micro_batch"] == SMOKE.sft.batch
    assert accumulated.train_losses == pytest.approx(whole.train_losses, rel=1e-4)
    a, b = whole.model.state_dict(), accumulated.model.state_dict()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-5
    assert accumulated.best_step == whole.best_step


@pytest.mark.slow
def test_a_recipe_open_on_length_and_steps_takes_them_from_the_data(smoke_setup: tuple[Path, list[dict]]) -> None:
    base, records = smoke_setup
    open_recipe = dataclasses.replace(SMOKE.sft, seq_len=None, steps=None, epochs=2.0)
    result = sft(base, records, open_recipe, 0)
    lengths = [len(encode(result.tokenizer, r["prompt"], r["response"], 10**9)[0]) for r in records]
    context = result.model.config.max_position_embeddings  # the longest example's length, up to the model's context
    assert result.recipe["seq_len"] == min(max(lengths), context)
    assert result.recipe["truncated"] == sum(n > context for n in lengths)
    assert result.recipe["steps"] == len(result.train_losses) == math.ceil(2.0 * result.n_train / SMOKE.sft.batch)
    cut = sft(base, records, dataclasses.replace(SMOKE.sft, seq_len=200, steps=2), 0)
    assert cut.recipe["truncated"] == sum(n > 200 for n in lengths) > 0  # counted, never silent
    with pytest.raises(ValueError, match="every validation example is cut before its response at seq_len 16"):
        sft(base, records, dataclasses.replace(SMOKE.sft, seq_len=16, steps=2), 0)


def test_the_batch_must_split_over_processes_and_micro_batches() -> None:
    assert _share(64, 8, None) == 8 and _share(64, 8, 4) == 4 and _share(64, 1, 16) == 16
    with pytest.raises(ValueError, match="micro-batches of 3 do not split"):
        _share(64, 2, 3)
    with pytest.raises(ValueError, match="does not split over 3 processes"):
        _share(64, 3, None)
    with pytest.raises(ValueError, match="needs steps or epochs"):
        dataclasses.replace(SMOKE.sft, steps=None)


def test_a_mixture_too_small_to_hold_out_validation_is_a_clear_error_not_an_endless_loop() -> None:
    """One example: it went to validation, and the batch loop waited forever for training examples."""
    from clt_kit.train.sft import split_validation

    with pytest.raises(InputError, match=r"1 training example\(s\): none left to train on after holding out 1"):
        split_validation([{"id": "a", "prompt": "p", "response": "r"}], 0.05, 0)
    train, val = split_validation([{"id": i, "prompt": "p", "response": "r"} for i in "ab"], 0.05, 0)
    assert len(train) == len(val) == 1


def test_the_best_checkpoint_is_kept_as_a_whole_copy_on_the_cpu() -> None:
    """best_state copies the weights (later steps do not change it) to the CPU, through
    accelerate's gather (get_state_dict: the whole weights where a model is sharded)."""
    import torch
    from accelerate import Accelerator

    from clt_kit.train.sft import best_state

    accelerator = Accelerator(cpu=True)
    model = accelerator.prepare(torch.nn.Linear(3, 2))
    kept = best_state(accelerator, model)
    with torch.no_grad():
        model.weight.add_(1.0)
    assert set(kept) == {"weight", "bias"} and all(t.device.type == "cpu" for t in kept.values())
    assert torch.equal(kept["weight"] + 1.0, model.weight.detach())
