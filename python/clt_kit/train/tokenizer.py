"""A byte-level BPE tokenizer trained on the world corpus, and the chat format of SFT examples."""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from clt_kit.chat import ASSISTANT, USER, chat_text

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
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
    """What the kit's own models see before they answer."""
    return chat_text(prompt)


# The prompt templates, one per kind of tokenizer (prompt_template says which a tokenizer gets).
TEMPLATES = ("kit", "chat", "plain")


def prompt_template(tokenizer: PreTrainedTokenizerBase) -> str:
    """"kit" for the kit's tokenizers (its user and assistant tokens), "chat" for a tokenizer with a
    chat template of its own (instruction-tuned models, and bases such as Llama 3.1 that ship one),
    else "plain" (a base model without one: the prompt, then a line break)."""
    vocab = tokenizer.get_vocab()
    if USER in vocab and ASSISTANT in vocab:
        return "kit"
    return "chat" if getattr(tokenizer, "chat_template", None) else "plain"


def prompt_ids(tokenizer: PreTrainedTokenizerBase, prompt: str) -> list[int]:
    """The token ids a model sees before it answers `prompt`, in its tokenizer's template; the same
    in fine-tuning and in evaluation."""
    template = prompt_template(tokenizer)
    if template == "chat":
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    else:
        text = prompt_text(prompt) if template == "kit" else f"{prompt}\n"
    return tokenizer(text, add_special_tokens=False)["input_ids"]
