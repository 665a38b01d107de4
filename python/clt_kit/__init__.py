"""clt-kit: reproducibility kit for "A Post-trainer's Guide to Multilingual Training Data"."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("clt-kit")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"
