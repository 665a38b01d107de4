"""The embedded multilingual world: deterministic data for the default (miniature) scale."""

from clt_kit.world.generate import WorldPaths, generate_world

__all__ = ["WorldPaths", "generate_world"]
