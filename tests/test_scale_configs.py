"""A scale is one config per stage (scales.py): each stage reads only its own, and the scale
refuses windows its base models cannot hold."""

from __future__ import annotations

import inspect
from dataclasses import fields, replace

import pytest

from clt_kit.evaluate.tasks import evaluate_items
from clt_kit.jsonio import InputError
from clt_kit.scales import SCALES, EvalConfig, PretrainConfig, SFTConfig, WorldConfig
from clt_kit.train.pretrain import ensure_base_model
from clt_kit.train.sft import sft
from clt_kit.world.generate import generate_world, world_settings


@pytest.mark.parametrize("stage, config", [(generate_world, WorldConfig), (ensure_base_model, PretrainConfig),
                                           (sft, SFTConfig), (evaluate_items, EvalConfig)])
def test_each_stage_takes_its_own_config_and_not_the_scale(stage, config) -> None:
    annotations = {p.annotation for p in inspect.signature(stage).parameters.values()}
    assert config.__name__ in annotations and "Scale" not in annotations


def test_the_world_manifest_records_exactly_the_world_config() -> None:
    for scale in SCALES.values():
        if scale.world is not None:
            assert set(world_settings(scale.world)) == {f.name for f in fields(WorldConfig)}


def test_the_paper_scale_is_the_papers_recipe_and_makes_no_world_or_base_model() -> None:
    paper = SCALES["paper"]
    assert (paper.sft.batch, paper.sft.lr, paper.sft.eval_every, paper.sft.precision) == (64, 1e-5, 50, "bf16")
    assert paper.sft.seq_len is None and paper.eval.seq_len is None  # from the data; prompts never cut
    with pytest.raises(InputError, match="generates no world and pretrains no model: its data comes from `clt-kit data`"):
        paper.generated()
    with pytest.raises(ValueError, match="come together, or none of them"):
        replace(SCALES["smoke"], world=None)


@pytest.mark.parametrize("stage", ["sft", "eval"])
def test_a_window_longer_than_the_base_models_context_is_refused(stage: str) -> None:
    scale = SCALES["smoke"]
    longer = replace(getattr(scale, stage), seq_len=scale.pretrain.seq_len + 1)
    with pytest.raises(ValueError, match=rf"{stage}\.seq_len {scale.pretrain.seq_len + 1} is longer than the base models' context"):
        replace(scale, **{stage: longer})
