"""Supervised fine-tuning as the paper does it (docs/study.md, "Models and training").

Full fine-tuning, constant learning rate, fixed batch size, loss on response tokens only; the
validation loss is computed every `eval_every` steps (a checkpoint), and the checkpoint with the
lowest validation loss is the one returned for evaluation. A caller may look at every checkpoint
(`on_checkpoint`: the training dynamics score a subsample of the test sets there).

Packing (an option; the paper did not pack) puts the examples of a batch end to end in as few rows
as fit `seq_len`, with position ids restarting at each example: transformers then attends only
within an example (its packed-sequence mask), and since every example starts with masked prompt
tokens, no loss crosses a boundary. The same examples make each step as without packing, with
fewer padding tokens.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from clt_kit.jsonio import InputError, write_json
from clt_kit.scales import SFTConfig
from clt_kit.seeding import derive_seed
from clt_kit.train.loop import IGNORE, Batch, labelled_loss, optimize
from clt_kit.train.model import set_determinism, weights_hash
from clt_kit.train.pretrain import load_base
from clt_kit.train.tokenizer import prompt_ids, prompt_template

log = logging.getLogger("clt_kit")


@dataclass(frozen=True)
class LoraSpec:
    """LoRA adapters on every linear layer but the output head (peft's "all-linear"), merged into
    the weights after training, so what is evaluated and saved is a plain model."""

    rank: int = 8
    alpha: int = 16

    def to_dict(self) -> dict[str, int]:
        return {"rank": self.rank, "alpha": self.alpha}


@dataclass
class SFTResult:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    best_step: int
    validation_losses: dict[int, float]
    train_losses: list[float]
    weights_sha256: str
    n_train: int
    n_validation: int
    trainable_parameters: int = 0
    determinism: dict[str, Any] = field(default_factory=dict)
    is_main_process: bool = True
    base_weights_sha256: str = ""  # weights_hash of the base model as loaded, before any step
    # what the recipe came to on this data: seq_len (set from the data when the recipe leaves it
    # open), examples cut by it, steps, global and micro batch, LR
    recipe: dict[str, Any] = field(default_factory=dict)


def encode(tokenizer: PreTrainedTokenizerBase, prompt: str, response: str, seq_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels of one example; prompt tokens are masked out of the loss."""
    p = prompt_ids(tokenizer, prompt)
    r = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = (p + r)[:seq_len]
    labels = ([IGNORE] * len(p) + r)[:seq_len]
    return ids, labels


def _lengths(tokenizer: PreTrainedTokenizerBase, records: Sequence[dict[str, Any]]) -> list[int]:
    return [len(encode(tokenizer, r["prompt"], r["response"], 1 << 30)[0]) for r in records]


def longest_example(lengths: Sequence[int], model: PreTrainedModel) -> int:
    """The sequence length a recipe that leaves it open gets: the longest example's, up to the
    model's context (examples longer than that are cut, and counted)."""
    context = getattr(model.config, "max_position_embeddings", None) or 1 << 30
    return min(max(lengths, default=1), context)


def count_truncated(lengths: Sequence[int], seq_len: int) -> int:
    """How many examples are longer than `seq_len` tokens (their ends are cut off in training)."""
    return sum(n > seq_len for n in lengths)


def collate(examples: Sequence[tuple[list[int], list[int]]], pad_id: int) -> Batch:
    """Right-padded batch; padding is masked from attention and loss."""
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id)
    labels = torch.full((len(examples), width), IGNORE)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def pack(examples: Sequence[tuple[list[int], list[int]]], seq_len: int, pad_id: int) -> Batch:
    """The examples end to end in rows of at most `seq_len` tokens (first fit, in order), position
    ids restarting at each example; the tail of a row is padding (masked from the loss)."""
    rows: list[list[tuple[list[int], list[int]]]] = []
    used: list[int] = []
    for ids, labs in examples:
        fit = next((r for r, n in enumerate(used) if n + len(ids) <= seq_len), None)
        if fit is None:
            rows.append([])
            used.append(0)
            fit = len(rows) - 1
        rows[fit].append((ids, labs))
        used[fit] += len(ids)
    width = max(used)
    input_ids = torch.full((len(rows), width), pad_id)
    labels = torch.full((len(rows), width), IGNORE)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for ids, labs in row:
            input_ids[r, at : at + len(ids)] = torch.tensor(ids)
            labels[r, at : at + len(labs)] = torch.tensor(labs)
            positions[r, at : at + len(ids)] = torch.arange(len(ids))
            at += len(ids)
        positions[r, at:] = torch.arange(width - at)  # the padding: a sequence of its own
    return {"input_ids": input_ids, "labels": labels, "position_ids": positions}


def split_validation(records: Sequence[dict[str, Any]], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, validation): the validation share is the records with the smallest seeded tickets."""
    ranked = sorted(records, key=lambda r: (derive_seed(seed, "validation", r["id"]), r["id"]))
    n_val = max(1, round(len(ranked) * share))
    if len(ranked) <= n_val:
        raise InputError(f"{len(ranked)} training example(s): none left to train on after holding out {n_val} for validation;"
                         " give a mixture of at least 2 examples (a larger --english or k)")
    return ranked[n_val:], ranked[:n_val]


def _epochs(
    examples: list[tuple[list[int], list[int]]], batch: int, pad_id: int, seed: int, rank: int = 0, world: int = 1,
    packed_len: int | None = None, micro_batch: int | None = None,
) -> Iterator[list[Batch]]:
    """Endless global batches of `batch` examples (a seeded shuffle each epoch, wrapping around);
    with several processes, process `rank` of `world` gets every world-th example of each, as
    micro-batches of `micro_batch` examples (gradient accumulation; None: one). With `packed_len`,
    each micro-batch's examples are packed into rows of that many tokens."""
    share = _share(batch, world, micro_batch)
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(examples), generator=generator).tolist()
        while len(order) < batch:
            order += torch.randperm(len(examples), generator=generator).tolist()
        for start in range(0, len(order) - batch + 1, batch):
            mine = [examples[i] for i in order[start : start + batch][rank::world]]
            chunks = [mine[at : at + share] for at in range(0, len(mine), share)]
            yield [collate(c, pad_id) if packed_len is None else pack(c, packed_len, pad_id) for c in chunks]


def _share(batch: int, world: int, micro_batch: int | None) -> int:
    """Examples per micro-batch; the global batch must split evenly over processes and micro-batches."""
    if batch % world:
        raise ValueError(f"the batch size {batch} does not split over {world} processes; use a multiple of {world}")
    share = batch // world if micro_batch is None else micro_batch
    if (batch // world) % share:
        raise ValueError(f"the batch size {batch} over {world} process(es) is {batch // world} examples each, which micro-batches"
                         f" of {share} do not split; use a micro-batch that divides {batch // world}")
    return share


@torch.no_grad()
def validation_loss(model: torch.nn.Module, examples: list[tuple[list[int], list[int]]], pad_id: int, device: Any) -> float:
    """Mean loss per response token over the validation examples."""
    model.eval()
    total, tokens = 0.0, 0
    for start in range(0, len(examples), 32):
        batch = {k: v.to(device) for k, v in collate(examples[start : start + 32], pad_id).items()}
        n = int((batch["labels"][:, 1:] != IGNORE).sum())
        if n == 0:  # every response of this batch cut off: nothing to score
            continue
        total += float(labelled_loss(model, batch)) * n
        tokens += n
    model.train()
    return total / max(tokens, 1)


def best_state(accelerator: Accelerator, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the model's weights on the CPU, whole: gathered from every process where the
    model is sharded (FSDP; every process must call this, and the main one gets the weights),
    and off the GPU, so that keeping the best checkpoint costs host memory, not GPU memory."""
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in accelerator.get_state_dict(model).items()}


# Called at every checkpoint with the model (in eval mode, not to be changed), its tokenizer and the step.
OnCheckpoint = Callable[[PreTrainedModel, PreTrainedTokenizerBase, int], None]


def sft(
    base_dir: Path | str, records: Sequence[dict[str, Any]], recipe: SFTConfig, seed: int, progress: bool = False,
    packing: bool = False, lora: LoraSpec | None = None, on_checkpoint: OnCheckpoint | None = None,
    log_with: str | None = None, logging_dir: Path | None = None, announce: Callable[[dict[str, Any]], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> SFTResult:
    """Fine-tunes the base model in `base_dir` on `records`; returns the best checkpoint.
    `packing`: pack each batch's examples into rows of `recipe.seq_len` tokens (see the module doc);
    `lora`: train LoRA adapters instead of every weight (the paper fine-tuned fully);
    `on_checkpoint`: called at each checkpoint after its validation loss (training dynamics);
    `log_with`: an accelerate tracker ("tensorboard", "wandb", ...) that gets every step's training
    loss and every checkpoint's validation loss (TensorBoard's event files under `logging_dir`);
    `announce`: called with what the recipe came to on this data (SFTResult.recipe) before the first step;
    `on_step`: called with (step, steps) after every step (a sweep's progress)."""
    flags = set_determinism(seed, recipe.cpu_threads)
    model, tokenizer = load_base(base_dir)
    base_weights = weights_hash(model)
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        adapters = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
        model = get_peft_model(model, adapters)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    train, val = split_validation(records, recipe.validation_share, seed)
    lengths = _lengths(tokenizer, records)  # tokenized once for both the open length and the count of cut examples
    seq_len = recipe.seq_len or longest_example(lengths, model)
    encoded_train = [encode(tokenizer, r["prompt"], r["response"], seq_len) for r in train]
    encoded_val = [encode(tokenizer, r["prompt"], r["response"], seq_len) for r in val]
    if not any(label != IGNORE for _, labels in encoded_val for label in labels[1:]):
        raise ValueError(f"every validation example is cut before its response at seq_len {seq_len}: there is no validation"
                         " loss to choose a checkpoint by; raise seq_len")
    truncated = count_truncated(lengths, seq_len)
    if truncated:
        log.warning("%d of %d examples are longer than %d tokens and lose their end in training", truncated, len(records), seq_len)
    steps = recipe.steps or max(1, math.ceil((recipe.epochs or 1.0) * len(train) / recipe.batch))
    pad = tokenizer.pad_token_id
    accelerator = Accelerator(mixed_precision="bf16" if recipe.precision == "bf16" and torch.cuda.is_available() else "no",
                              log_with=log_with, project_dir=logging_dir)
    if lora is not None and accelerator.distributed_type == DistributedType.FSDP:
        raise InputError("LoRA adapters under FSDP are not supported: train them on one GPU or under DDP (configs/accelerate/1gpu.yaml)")
    if log_with is not None:
        accelerator.init_trackers("clt-kit-sft", config={"lr": recipe.lr, "global_batch": recipe.batch, "steps": steps,
                                                          "seq_len": seq_len, "seed": seed, "examples": len(train)})

    best: dict[str, Any] = {"loss": float("inf"), "step": 0, "state": None}
    val_losses: dict[int, float] = {}

    def checkpoint(step: int, train_loss: float) -> None:
        if on_step is not None:
            on_step(step, steps)
        if log_with is not None:
            accelerator.log({"train_loss": train_loss}, step=step)
        if step % recipe.eval_every and step != steps:
            return
        loss = validation_loss(model, encoded_val, pad, accelerator.device)
        val_losses[step] = loss
        if log_with is not None:
            accelerator.log({"validation_loss": loss}, step=step)
        if loss < best["loss"]:
            best.update(loss=loss, step=step, state=best_state(accelerator, model))
        if on_checkpoint is not None:
            model.eval()
            on_checkpoint(accelerator.unwrap_model(model), tokenizer, step)
            model.train()

    recipe_used = {"seq_len": seq_len, "truncated": truncated, "steps": steps, "global_batch": recipe.batch,
                   "micro_batch": _share(recipe.batch, accelerator.num_processes, recipe.micro_batch), "lr": recipe.lr,
                   "template": prompt_template(tokenizer), "precision": "bf16" if accelerator.mixed_precision == "bf16" else "fp32",
                   "threads": flags["threads"], "examples": len(train)}
    if announce is not None and accelerator.is_main_process:
        announce(recipe_used)
    batches = _epochs(encoded_train, recipe.batch, pad, seed, accelerator.process_index, accelerator.num_processes,
                      seq_len if packing else None, recipe.micro_batch)
    losses = optimize(
        model, batches, steps, recipe.lr, accelerator, on_step=checkpoint, desc="sft", progress=progress,
    )
    if log_with is not None:
        accelerator.end_training()
    model = accelerator.unwrap_model(model)
    if accelerator.distributed_type == DistributedType.FSDP and accelerator.is_main_process:
        model = load_base(base_dir)[0]  # the trained parameters are shards: the whole model is the base's, given the gathered weights
    if best["state"]:  # empty on FSDP's other processes: the main process alone gathers the weights (and saves them)
        model.load_state_dict(best["state"])
    if lora is not None:
        model = model.merge_and_unload()
    model.eval()
    return SFTResult(
        model=model, tokenizer=tokenizer, best_step=best["step"], validation_losses=val_losses,
        train_losses=losses, weights_sha256=weights_hash(model), n_train=len(train), n_validation=len(val),
        trainable_parameters=trainable,
        determinism={**flags, "processes": accelerator.num_processes, "packing": packing, "lora": lora and lora.to_dict(),
                     "mixed_precision": accelerator.mixed_precision},
        is_main_process=accelerator.is_main_process, base_weights_sha256=base_weights,
        recipe=recipe_used,
    )


def save_result(result: SFTResult, out: Path, about: dict[str, Any] | None = None, seconds: float | None = None) -> None:
    """Saves the evaluated checkpoint, its tokenizer and a record of the training (with `about`:
    what the run was, for `clt-kit ingest`; pieces.run_about)."""
    result.model.save_pretrained(out, safe_serialization=True)
    result.tokenizer.save_pretrained(out)
    write_json(out / "sft.json", {
        "best_step": result.best_step,
        "validation_losses": {str(k): v for k, v in result.validation_losses.items()},
        "train_losses": result.train_losses,
        "weights_sha256": result.weights_sha256,
        "base_weights_sha256": result.base_weights_sha256,
        "n_train": result.n_train,
        "trainable_parameters": result.trainable_parameters,
        "n_validation": result.n_validation,
        # accelerate says "no" for no mixed precision: written as the precision trained in
        "determinism": {**result.determinism, "mixed_precision": result.recipe.get("precision", result.determinism.get("mixed_precision"))},
        "recipe": result.recipe,
        "train_seconds": seconds,
        "run": about,
    })
