"""Real datasets in, kit items out: the paper scale's data stage (the mini and smoke scales
generate theirs: world/). `adapters` declares each dataset of the study, `read` reads rows from
the hub or a local copy, `build` turns a data config into a data folder in the world's layout."""

from clt_kit.sources.adapters import ADAPTERS, Adapter, generic_adapter, get_adapter
from clt_kit.sources.build import DATA_RECORD, DataSpec, SourceSpec, build_data, data_paths
from clt_kit.sources.config import read_data_spec

__all__ = ["ADAPTERS", "DATA_RECORD", "Adapter", "DataSpec", "SourceSpec", "build_data", "data_paths", "generic_adapter", "get_adapter", "read_data_spec"]
