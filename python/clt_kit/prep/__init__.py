"""Data prep: the Rust core (`clt_kit._prep`) driven from Python, and the manifests it writes."""

from clt_kit.prep.mixture import MixtureSpec, build_mixture
from clt_kit.prep.verify import verify_path

__all__ = ["MixtureSpec", "build_mixture", "verify_path"]
