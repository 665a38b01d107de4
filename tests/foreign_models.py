"""A tiny transformers causal LM that is not one of the kit's own (GPT-2 architecture, a byte-level
BPE tokenizer without a padding token), saved in a folder: the stand-in for a real base model on
the paper scale's path."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast


def foreign_model(texts: list[str], out: Path, hidden: int = 32, layers: int = 1, context: int = 256) -> Path:
    """A GPT-2 model of `hidden` x `layers` with a BPE tokenizer trained on `texts`, saved in `out`."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    assert tokenizer.pad_token is None
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=context, n_embd=hidden, n_layer=layers, n_head=2,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
