"""A byte-level BPE tokenizer trained on the world corpus, and the chat format of SFT examples."""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
USER, ASSISTANT = "<|user|>", "<|assistant|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, USER, ASSISTANT]
# Bumped whenever training a tokenizer changes (it is part of every tokenizer's and base model's key).
TOKENIZER_FORMAT = 2


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE (every string encodes; CJK gets merges instead of 3 bytes a character).

    Digit runs are split from what surrounds them, as real LLM tokenizers do: "has 13" and a line
    starting "13" then hold the same token for 13, so a model answering a word problem copies the
    prompt's numbers token for token (with GPT-2's rule " 13" and "13" are unrelated tokens, and
    the tiny models never learned to map one to the other)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS)


def prompt_text(prompt: str) -> str:
    """What the model sees before it answers."""
    return f"{USER}{prompt}{ASSISTANT}"
