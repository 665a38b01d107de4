from __future__ import annotations

from pathlib import Path

import pytest

from clt_kit.scales import MINI, SMOKE
from clt_kit.world import generate_world

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def smoke_world(tmp_path_factory: pytest.TempPathFactory):
    """One smoke world (seed 1) shared by the tests that only read it."""
    return generate_world(tmp_path_factory.mktemp("world") / "w", 1, SMOKE.world, SMOKE.name)


@pytest.fixture(scope="session")
def mini_world(tmp_path_factory: pytest.TempPathFactory):
    """The default scale's world (seed 0), for the slow tests that only read it."""
    return generate_world(tmp_path_factory.mktemp("mini") / "w", 0, MINI.world, MINI.name)
