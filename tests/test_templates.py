"""Prompts take the template of the model's tokenizer, the same in fine-tuning and evaluation: the
kit's own tokens, the tokenizer's chat template, or a plain prompt for a base model without one."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from clt_kit.train.sft import IGNORE, encode
from clt_kit.train.tokenizer import ASSISTANT, USER, prompt_ids, prompt_template, train_tokenizer

TEXTS = ["Summarize the text.\nThe council opened a library.", "A library opened.", "Write a note about the sea."] * 20
CHAT = "{% for m in messages %}<|start|>{{ m['role'] }}\n{{ m['content'] }}<|end|>\n{% endfor %}{% if add_generation_prompt %}<|start|>assistant\n{% endif %}"


def _foreign(chat_template: str | None) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>", "<|start|>", "<|end|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")
    tokenizer.chat_template = chat_template
    return tokenizer


def test_each_kind_of_tokenizer_gets_its_template() -> None:
    kit = train_tokenizer(TEXTS, 300)
    assert prompt_template(kit) == "kit"
    assert kit.convert_ids_to_tokens(prompt_ids(kit, "Hi"))[0] == USER and kit.convert_ids_to_tokens(prompt_ids(kit, "Hi"))[-1] == ASSISTANT
    plain = _foreign(None)
    assert prompt_template(plain) == "plain" and plain.decode(prompt_ids(plain, "Write a note.")) == "Write a note.\n"
    chat = _foreign(CHAT)
    assert prompt_template(chat) == "chat"
    assert chat.decode(prompt_ids(chat, "Write a note.")) == "<|start|>user\nWrite a note.<|end|>\n<|start|>assistant\n"


@pytest.mark.parametrize("chat_template", [None, CHAT])
def test_fine_tuning_masks_exactly_the_templated_prompt(chat_template: str | None) -> None:
    tokenizer = _foreign(chat_template)
    ids, labels = encode(tokenizer, "Write a note about the sea.", "A library opened.", 10**6)
    prompt = prompt_ids(tokenizer, "Write a note about the sea.")
    assert ids[: len(prompt)] == prompt and labels[: len(prompt)] == [IGNORE] * len(prompt)
    assert tokenizer.decode(ids[len(prompt):]) == "A library opened.<eos>"


def test_an_answer_ends_at_the_templates_end_of_turn_token() -> None:
    """The stop tokens: end-of-sequence, and for a chat template the special token it writes after
    an assistant's answer; the kit's own format and a plain base end at end-of-sequence alone."""
    from clt_kit.evaluate.generate import stop_token_ids

    chat = _foreign(CHAT)
    assert chat.convert_ids_to_tokens(list(stop_token_ids(chat))) == ["<eos>", "<|end|>"]
    assert _foreign(None).convert_ids_to_tokens(list(stop_token_ids(_foreign(None)))) == ["<eos>"]
    kit = train_tokenizer(TEXTS, 300)
    assert stop_token_ids(kit) == (kit.eos_token_id,)
