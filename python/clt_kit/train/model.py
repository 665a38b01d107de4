"""Tiny causal LMs from transformers model classes, and content hashes of their weights."""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path

import torch
from transformers import CohereConfig, CohereForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedConfig, PreTrainedModel

from clt_kit.scales import ModelSize

# The transformers families of the paper's models: Aya 23 is a Cohere (Command) model (parallel
# attention and MLP blocks, LayerNorm, scaled logits); Llama 3.1 a Llama one (sequential blocks,
# RMSNorm). The tiny analogues keep each family's model class at their own sizes.
ARCHITECTURES: dict[str, tuple[type[PreTrainedConfig], type[PreTrainedModel]]] = {
    "cohere": (CohereConfig, CohereForCausalLM),
    "llama": (LlamaConfig, LlamaForCausalLM),
}


def init_std(hidden: int) -> float:
    """The standard deviation of the initial weights: 1/sqrt(hidden), not transformers' default 0.02,
    which suits hidden sizes in the thousands. At a hidden size of about 100, queries and keys drawn
    at 0.02 give attention scores near zero and gradients that barely move them, so the model learns
    slowly, if at all, to look up a position by what precedes it. Measured with the 7B analogue's
    architecture on a lookup task ("A X ... T" -> X, X any of 2,000 tokens): at 0.02, 0% after
    1,000 steps; at 0.1, 87% after 600. The bundled 7B analogue, pretrained at 1/sqrt(96) and
    fine-tuned at k=50, scores English MR accuracy 0.88 and IF rating 2.71; pretrained at 0.02, 0.37
    and 2.39. It still copies no word from its prompt (tests/test_mini_scores.py)."""
    return hidden ** -0.5


def build_model(size: ModelSize, vocab_size: int, seq_len: int, seed: int) -> PreTrainedModel:
    """A freshly initialized model of `size`, its weights drawn from `seed` (init_std)."""
    if size.architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {size.architecture!r}; supported: {', '.join(sorted(ARCHITECTURES))}")
    config_class, model_class = ARCHITECTURES[size.architecture]
    config = config_class(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        intermediate_size=size.intermediate,
        max_position_embeddings=seq_len + 64,
        initializer_range=init_std(size.hidden),
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    if size.architecture == "cohere":
        # Cohere scales its logits by 1/16, tuned for a hidden size of 8192; at a hidden size of
        # about 100 the scaled logits stay nearly flat and a tiny model barely learns (measured:
        # 7B analogue's pretraining loss 5.2 instead of 0.9 after 400 steps), so the analogues leave them unscaled.
        config.logit_scale = 1.0
    torch.manual_seed(seed)
    return model_class(config)


def weights_hash(model: torch.nn.Module) -> str:
    """sha256 over every parameter and buffer, in name order (identical weights, identical hash)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()


def set_determinism(seed: int, cpu_threads: int) -> dict[str, object]:
    """Seeds torch, fixes its CPU thread count (CPU results depend on it) and asks for
    deterministic kernels; returns the flags to store with a run."""
    torch.set_num_threads(cpu_threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return {"torch_seed": seed, "deterministic_algorithms": True, "threads": torch.get_num_threads(), **cpu_kind()}


def cpu_kind() -> dict[str, str]:
    """What, besides the seed and thread count, fixes the float sums of a CPU run: the vector
    instructions torch's own kernels use ("AVX512", "AVX2", "DEFAULT" on x86; ATEN_CPU_CAPABILITY
    set to a lower one, e.g. "avx2", makes torch use that one) and the CPU's vendor, on whose CPUs
    MKL's matrix products take other code paths. Measured on the 35B analogue's base: pretrained on
    AMD with AVX512 and on AMD with AVX2, it gave two sets of weights, both other than those built
    on Intel with AVX512; on AMD with AVX512 pinned to AVX2 it gave exactly the AVX2 machine's."""
    return {"cpu_vendor": _cpu_vendor(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def _cpu_vendor() -> str:
    """/proc/cpuinfo's vendor_id ("GenuineIntel", "AuthenticAMD"), else the platform's processor name."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"
