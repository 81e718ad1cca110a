"""Turn a configured device ("auto", "cpu", "cuda", "mps") into one that exists here."""

from __future__ import annotations

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
