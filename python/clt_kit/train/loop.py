"""The optimization loop shared by pretraining and SFT: AdamW, constant LR, fixed batch size."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from accelerate import Accelerator
from tqdm import tqdm

Batch = dict[str, torch.Tensor]


def optimize(
    model: torch.nn.Module,
    batches: Iterator[Batch],
    steps: int,
    lr: float,
    accelerator: Accelerator,
    on_step: Callable[[int, float], None] | None = None,
    desc: str = "train",
    progress: bool = False,
) -> list[float]:
    """Runs `steps` optimizer steps on `batches`; returns the training loss of each step.

    `on_step(step, loss)` is called after each step (1-based), e.g. to evaluate and checkpoint.
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    losses = []
    for step in tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False):
        batch = {k: v.to(accelerator.device) for k, v in next(batches).items()}
        loss = model(**batch, use_cache=False).loss  # no KV cache in training (and packing needs none)
        if accelerator.num_processes > 1:
            # Each process averages over its own tokens and DDP averages over processes; weight by
            # the token counts so the gradient is that of the global batch's token mean.
            local = (batch["labels"][:, 1:] != -100).sum()
            total = accelerator.reduce(local.detach().clone(), reduction="sum")
            loss = loss * local * accelerator.num_processes / total
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, losses[-1])
    return losses
