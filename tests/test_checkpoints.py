"""Training dynamics (evaluate/checkpoints.py): the fixed per-language subsample of a test set."""

from __future__ import annotations

import random

from clt_kit.evaluate.checkpoints import subsample


def _items() -> list[dict]:
    return [{"id": f"{lang}-{i:03d}", "lang": lang} for lang in ("en", "es", "ja") for i in range(20)]


def test_the_subsample_takes_n_per_language_by_seeded_ticket_whatever_the_order() -> None:
    items = _items()
    picked = subsample(items, 4, seed=3)
    assert [item["lang"] for item in picked] == ["en"] * 4 + ["es"] * 4 + ["ja"] * 4
    shuffled = items[:]
    random.Random(0).shuffle(shuffled)
    assert subsample(shuffled, 4, seed=3) == picked
    assert subsample(items, 4, seed=4) != picked  # another seed, another subsample
    assert {i["id"] for i in subsample(items, 2, seed=3)} < {i["id"] for i in picked}  # nested in its size
    assert subsample(items, 0, seed=3) == [] and len(subsample(items, 50, seed=3)) == len(items)


def test_the_sweeps_bar_says_the_time_left_at_the_mean_rate() -> None:
    """The sweep polls its bar once a second; the first run ends after 100 s. The time left is 3
    runs at 100 s (tqdm's default, the rate of the last second, said 3 s)."""
    import io

    from clt_kit.pipeline import runs_bar

    bar = runs_bar(4, "runs", True, file=io.StringIO())
    bar.start_t -= 100
    for _ in range(99):  # polls that find nothing new, a second apart (the clock moved back instead)
        bar.last_print_t -= 1
        bar.update(0)
    bar.last_print_t -= 1
    bar.update(1)
    meter = bar.format_meter(**bar.format_dict)
    bar.close()
    assert "1/4 [01:40<05:00" in meter, meter
