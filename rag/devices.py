"""Turn a configured device ("auto", "cpu", "cuda", "mps") into one that exists here."""

from __future__ import annotations

import importlib.metadata

from rag.errors import ModelUnavailableError


def resolve_device(requested: str, key: str = "LLM_DEVICE") -> str:
    """`auto` picks cuda, then mps, then cpu; an explicit device that is missing is an error.

    torch is imported here, not at module level, so that reading the config stays cheap.
    """
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if requested == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if requested == "cuda" and not cuda:
        raise ModelUnavailableError(
            f'{key}="cuda" but no CUDA GPU is visible to torch; set {key}="auto" '
            '(falls back to the CPU) or "cpu", or install a CUDA build of torch'
        )
    if requested == "mps" and not mps:
        raise ModelUnavailableError(f'{key}="mps" but MPS is not available; use "auto" or "cpu"')
    return requested


def torch_is_cpu_build() -> bool:
    """True when the installed torch is a CPU-only wheel by its version ("2.13.0+cpu"), read
    from its metadata without importing torch (2-3 s). Other builds may still see no GPU."""
    try:
        return importlib.metadata.version("torch").endswith("+cpu")
    except importlib.metadata.PackageNotFoundError:
        return True


def llama_cpp_can_offload() -> bool:
    """llama.cpp was built with a GPU backend (CUDA, Metal...) and that backend sees a
    device: `llama_supports_gpu_offload()`. False when llama-cpp-python is missing (loading
    the model then says what to install)."""
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())
