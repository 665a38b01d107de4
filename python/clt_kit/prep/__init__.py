"""Data prep: the Rust core (`clt_kit._prep`) driven from Python, and the manifests it writes."""

from clt_kit.prep.mixture import MixtureSpec, build_mixture

__all__ = ["MixtureSpec", "build_mixture"]
