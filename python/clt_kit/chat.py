"""The chat format of the kit's own models, in one place: the tokens that open a user's turn and
the assistant's answer. The kit's tokenizers hold them as special tokens (train/tokenizer.py), the
world writes its pretraining task items in this format (world/generate.py), and fine-tuning and
evaluation put every prompt in it."""

from __future__ import annotations

USER, ASSISTANT = "<|user|>", "<|assistant|>"


def chat_text(prompt: str, response: str = "") -> str:
    """A user's turn and the assistant's answer (none: what a model sees before it answers)."""
    return f"{USER}{prompt}{ASSISTANT}{response}"
