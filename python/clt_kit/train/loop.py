"""The optimization loop shared by pretraining and SFT: AdamW, fixed batch size, and a constant LR
(SFT, as the paper) or warmup then cosine decay (pretraining).

The loss is the mean next-token cross-entropy over the labelled tokens, and the model computes
logits only there (transformers' boolean `logits_to_keep`): in SFT most tokens are prompt tokens,
masked from the loss, and projecting them onto the vocabulary would be wasted work.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from tqdm import tqdm

Batch = dict[str, torch.Tensor]
IGNORE = -100  # the label of a token that is not predicted (prompt tokens, padding)


def labelled_loss(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Mean cross-entropy of the next token over every position whose next token has a label.
    Logits are computed at those positions only, where the model's forward takes `logits_to_keep`
    (transformers' causal LMs do); otherwise at every position."""
    labels = batch["labels"]
    targets = labels[:, 1:]
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = targets != IGNORE
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    if forward_takes(model, "logits_to_keep"):
        logits = model(**inputs, use_cache=False, logits_to_keep=keep).logits
    else:
        logits = model(**inputs, use_cache=False).logits[keep]
    return F.cross_entropy(logits.float(), targets[targets != IGNORE])


def forward_takes(model: torch.nn.Module, argument: str) -> bool:
    """Whether the model's forward takes `argument` (under DDP or peft, the wrapped model's)."""
    forward = getattr(model, "module", model)  # under DDP, the wrapped model's forward
    forward = getattr(forward, "get_base_model", lambda: forward)()  # under peft, the base model's
    return argument in inspect.signature(forward.forward).parameters


def optimize(
    model: torch.nn.Module,
    batches: Iterator[list[Batch]],
    steps: int,
    lr: float,
    accelerator: Accelerator,
    on_step: Callable[[int, float], None] | None = None,
    desc: str = "train",
    progress: bool = False,
    cosine: bool = False,
) -> list[float]:
    """Runs `steps` optimizer steps, each on the next item of `batches`: this process's share of
one global batch, as one or more micro-batches (gradient accumulation); returns the training loss
of each step (the global batch's mean over its labelled tokens).

    `on_step(step, loss)` is called after each step (1-based), e.g. to evaluate and checkpoint.
    `cosine`: warm up over the first 5% of steps, then decay to a tenth of `lr` (else constant).
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: cosine_factor(i, steps) if cosine else 1.0)
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    losses = []
    for step in tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False):
        micro = [{k: v.to(accelerator.device) for k, v in batch.items()} for batch in next(batches)]
        if len(micro) == 1 and accelerator.num_processes == 1:
            loss = labelled_loss(model, micro[0])
            accelerator.backward(loss)
        else:
            loss = _accumulate(model, micro, accelerator)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, losses[-1])
    return losses


def _accumulate(model: torch.nn.Module, micro: list[Batch], accelerator: Accelerator) -> torch.Tensor:
    """Backpropagates the micro-batches of one step so that the gradient is that of the global
    batch's mean over its labelled tokens: each micro-batch's mean is weighted by its share of the
    global batch's tokens (summed over processes; DDP averages the processes' gradients, hence the
    factor of their number). Returns the global batch's loss."""
    counts = [(batch["labels"][:, 1:] != IGNORE).sum() for batch in micro]
    total = accelerator.reduce(torch.stack(counts).sum().detach().clone(), reduction="sum")
    summed = torch.zeros((), device=accelerator.device)
    for i, (batch, count) in enumerate(zip(micro, counts)):
        if count == 0:  # every response cut off by seq_len: nothing to learn, but a graph for DDP to sync on
            inputs = {k: v for k, v in batch.items() if k != "labels"}
            loss = model(**inputs, use_cache=False).logits.sum() * 0.0
        else:
            loss = labelled_loss(model, batch) * count * accelerator.num_processes / total
        last = i == len(micro) - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(model):  # gradients meet once, at the last
            accelerator.backward(loss)
        summed += loss.detach()
    return accelerator.reduce(summed, reduction="sum") / accelerator.num_processes


def cosine_factor(step: int, steps: int, warmup_share: float = 0.05, floor: float = 0.1) -> float:
    """The LR multiplier before optimizer step `step` (0-based) of `steps`: linear warmup, then
    cosine decay from 1 to `floor`."""
    warmup = max(1, round(steps * warmup_share))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
