"""The study as data (study.toml): the kit's declaration, the runs derived from it, and the
errors a bad declaration gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from clt_kit.jsonio import InputError
from clt_kit.layout import Layout
from clt_kit.pipeline import plan_figure
from clt_kit.results.figures import DRAWERS
from clt_kit.results.tables import TABLE_DRAWERS
from clt_kit.scales import MINI, SMOKE
from clt_kit.study import DRAWS, STUDY_FILE, TABLE_DRAWS, TASKS, RunKey, load_study, study

MODELS = tuple(m.name for m in SMOKE.models)


def test_the_kits_study_declares_the_papers_figures_and_mixtures() -> None:
    s = study()
    assert sorted(s.figures) == [2, 3, 4, 5, 6, 7, 8, 10, 11, 12]
    assert sorted(s.tables) == list(range(2, 24))
    assert {name: m.seen for name, m in s.mixtures.items()} == {
        "all": ("es", "fr", "ja", "zh"), "latin": ("es", "fr"), "non_latin": ("ja", "zh")}
    assert tuple(DRAWERS) == DRAWS  # every plot a figure may name is drawn by figures.py
    assert tuple(TABLE_DRAWERS) == TABLE_DRAWS  # ... and every table by tables.py
    assert s.settings["multi"].joint and s.settings["multi"].tasks == TASKS and not s.settings["single"].joint


def test_a_multi_task_figure_plans_one_joint_run_per_model_and_k_whatever_tasks_it_shows() -> None:
    grid = study().k_grid("multi", "smoke")
    for number in (4, 5):
        keys = study().plan([study().figure(number)], "smoke", MODELS)
        assert keys == [RunKey("multi", "all", model, "multi", k) for model in ("7b", "35b") for k in grid]
    assert study().plan([study().figure(12)], "smoke", MODELS) == [RunKey("multi", "all", "7b", "multi", k) for k in grid]
    assert study().plan([study().table(9), study().table(23)], "smoke", MODELS) == study().plan([study().figure(12)], "smoke", MODELS)
    run = plan_figure(12, SMOKE)[0]
    assert run.tasks == TASKS and Layout(Path("/r")).mixture(SMOKE, 0, run.task, 8).name == "multi-k8"


def test_figures_that_show_the_same_runs_plan_the_same_runs() -> None:
    assert plan_figure(2, SMOKE) == plan_figure(3, SMOKE)
    assert len(plan_figure(2, SMOKE)) == 2 * 3 * len(study().k_grid("single", "smoke"))
    assert {p.model for p in plan_figure(10, MINI)} == {"8b"}


def test_script_mixtures_share_the_english_only_run() -> None:
    keys = study().plan([study().figure(6)], "smoke", MODELS)
    grid = study().k_grid("single", "smoke")
    assert keys[0] == RunKey("single", "all", "7b", "IF", 0)
    assert len(keys) == 1 + 2 * (len(grid) - 1)
    assert {(k.mixture, k.k) for k in keys[1:]} == {(m, k) for m in ("latin", "non_latin") for k in grid if k}
    # ... and the same mixture folder as Figure 2's English-only run.
    layout = Layout(Path("/r"))
    assert layout.mixture(SMOKE, 0, "IF", 0, "latin") == layout.mixture(SMOKE, 0, "IF", 0)
    assert layout.mixture(SMOKE, 0, "IF", 4, "latin").name == "IF-latin-k4"


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = STUDY_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "study.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_new_k_value_mixture_or_figure_is_a_data_change(tmp_path: Path) -> None:
    edited = _edited(tmp_path, "smoke = [0, 4, 8]", "smoke = [0, 4, 8, 12]")
    assert len(load_study(edited).plan([load_study(edited).figure(2)], "smoke", MODELS)) == 2 * 3 * 4
    edited = _edited(tmp_path, "[settings.single]", """[mixtures.spanish]
about = "English and Spanish"
seen = ["es"]

[figures.99]
about = "a figure of one's own"
setting = "single"
mixtures = ["spanish"]
models = ["35b"]
tasks = ["SM"]
draw = "script_groups"

[settings.single]""")
    keys = load_study(edited).plan([load_study(edited).figure(99)], "smoke", MODELS)
    assert [(k.mixture, k.model, k.task, k.k) for k in keys] == [("all", "35b", "SM", 0), ("spanish", "35b", "SM", 4), ("spanish", "35b", "SM", 8)]


@pytest.mark.parametrize("old, new, message", [
    ('mixtures = ["latin", "non_latin"]', 'mixtures = ["latn"]', "figures.6.mixtures: unknown 'latn'; choose from all, latin, non_latin"),
    ("smoke = [0, 4, 8]", "smoke = [8, 4, 0]", "settings.single.k.smoke: must be ascending"),
    ("smoke = [0, 4, 8]", "smoke = [0, -4]", "settings.single.k.smoke: must be a non-empty list of non-negative integers"),
    ('draw = "seen_unseen"', 'draw = "pie"', "figures.3.draw: unknown plot 'pie'"),
    ('seen = ["es", "fr"]', 'seen = ["es", "xx"]', "mixtures.latin.seen: unknown 'xx'"),
    ('seen = ["es", "fr"]', 'seen = ["en", "fr"]', "mixtures.latin.seen: unknown 'en'"),
    ('tasks = ["IF"]', 'tasks = ["QA"]', "figures.6.tasks: unknown 'QA'"),
    ('setting = "single"', 'setting = "several"', "figures.2.setting: unknown setting 'several'"),
    ('tasks = ["IF", "SM", "MR"]\nenglish_share', 'tasks = ["IF", "QA"]\nenglish_share', "settings.multi.tasks: unknown 'QA'"),
    ("english_share = 0.5", "english_share = 2", "settings.multi.english_share: must be a number in (0, 1]"),
    ("[settings.multi]", "[settings.IF]", "settings.IF: a setting may not be named as a task"),
    ('draw = "dynamics"', 'draw = "heatmap"', "tables.2.draw: unknown table 'heatmap'"),
    ('models = ["35b"]\ntasks = ["IF"]\ndraw = "per_language"', 'models = ["35b", "7b"]\ntasks = ["IF"]\ndraw = "per_language"',
     "tables.3.models: a per-language table shows one"),
    ("[figures.2]", "[figures.two]", "figures.two: named by its number"),
    ('draw = "rel_to_english"', 'draw = "rel_to_english"\ncolour = "red"', "figures.2: unknown key(s) colour"),
    ("[mixtures.all]", "[mixtures.every]", "mixtures: must declare mixture 'all'"),
    ('seen = ["ja", "zh"]', 'seen = ["ja", "zh"', "not valid TOML"),
    ('color = "tab:blue"', 'colour = "tab:blue"', "tasks.IF: unknown key(s) colour"),
])
def test_a_bad_declaration_is_named_with_its_file_and_entry(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = _edited(tmp_path, old, new)
    with pytest.raises(InputError) as e:
        load_study(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value)


def test_a_scale_without_a_grid_and_an_unknown_figure_are_refused() -> None:
    with pytest.raises(ValueError, match="settings.single.k has no grid for scale 'huge'"):
        study().plan([study().figure(2)], "huge", MODELS)
    with pytest.raises(ValueError, match="figure 9 is not supported yet; supported: 2, 3, 4, 5, 6, 7, 8, 10, 11, 12"):
        study().figure(9)
    with pytest.raises(ValueError, match="no analogue of the models of figure 10"):
        study().plan([study().figure(10)], "smoke", ("7b",))


def test_every_task_has_its_generator_scorer_and_trivial_answerers() -> None:
    from clt_kit.evaluate.baselines import BASELINES
    from clt_kit.evaluate.tasks import SCORERS
    from clt_kit.results.figures import METRIC_NAMES, TASK_COLORS
    from clt_kit.scales import SCALES
    from clt_kit.study import TASKS
    from clt_kit.sources import ADAPTERS
    from clt_kit.world.generate import BUILDERS

    assert TASKS == ("IF", "SM", "MR")
    for registry in (BUILDERS, SCORERS, BASELINES, METRIC_NAMES, TASK_COLORS):
        assert set(registry) == set(TASKS)
    for scale in SCALES.values():
        if scale.world is not None:  # the paper scale's data comes from real datasets (sources/)
            assert set(scale.world.test_per_lang) == set(TASKS) and set(scale.world.corpus_items) == set(TASKS)
    assert {a.task for a in ADAPTERS.values()} == set(TASKS)  # and each task has its paper-scale datasets
