"""The mini scale's length budgets hold its world: every prompt with its answer fits `seq_len`
(SFT cuts a longer example, its end and end-of-sequence token lost), and every test item's
reference answer fits `max_new_tokens` (evaluation stops there, so a model could not write it
whole). Faulty pool lines are left out: prep drops them. With the earlier budgets (192 and 64)
both failed: 9 of 200 English and 127 of 200 Korean IF references were longer than 64 tokens."""

from __future__ import annotations

import pytest
from transformers import PreTrainedTokenizerFast

from clt_kit.jsonio import read_jsonl
from clt_kit.study import TASKS
from clt_kit.prep.records import read_records
from clt_kit.scales import MINI
from clt_kit.train.pretrain import ensure_tokenizer
from clt_kit.train.tokenizer import prompt_text

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("task", TASKS)
def test_every_item_of_the_mini_world_fits_the_scales_budgets(mini_world, tmp_path_factory: pytest.TempPathFactory, task: str) -> None:
    tokenizer = PreTrainedTokenizerFast.from_pretrained(ensure_tokenizer(mini_world, MINI.pretrain, tmp_path_factory.mktemp("tok")))

    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    tests = read_jsonl(mini_world.test(task))
    faults = {f["id"] for f in read_jsonl(mini_world.faults)}  # prep drops them (an upper-cased copy is longer)
    items = [*tests, *(r for r in read_records(mini_world.train(task), lenient=True).records if r["id"] not in faults)]
    too_long = [(i["id"], n) for i in items if (n := tokens(prompt_text(i["prompt"])) + tokens(i["response"]) + 1) > MINI.sft.seq_len]
    assert not too_long, f"{task}: {len(too_long)} items longer than seq_len {MINI.sft.seq_len}, e.g. {too_long[:3]}"
    unwritable = [(i["id"], n) for i in tests if (n := tokens(i["response"]) + 1) > MINI.eval.max_new_tokens]
    assert not unwritable, f"{task}: {len(unwritable)} references longer than max_new_tokens {MINI.eval.max_new_tokens}, e.g. {unwritable[:3]}"
