"""`make run GPU=1` composes the CUDA install; `make run` does not (issue 20).

Dry runs only (`make -n -B`: every recipe printed, none run; the Makefile has no `$(MAKE)`
or `$(shell …)`, which would run even then). Nothing is installed and no GPU is needed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = ROOT / "Makefile"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make here")


# a parent `make test GPU=1` passes its variables down through the environment
_MAKE_ENV = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "GPU", "TORCH_CUDA", "VENV")


def dry_run(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in _MAKE_ENV}
    done = subprocess.run(
        ["make", "-n", "-B", "run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_gpu_run_installs_cuda_torch_and_cuda_llama_cpp() -> None:
    existed = (ROOT / ".venv-gpu").exists()
    out = dry_run("GPU=1")
    assert "torch==2.13.0+cu130 --index-url https://download.pytorch.org/whl/cu130" in out
    assert out.count("-DGGML_CUDA=on") == 2  # the llama.cpp build and the project install
    assert "--no-cache-dir 'llama-cpp-python==0.3.36'" in out
    assert ".venv-gpu/bin/python app.py" in out
    # torch before llama.cpp before the project
    assert out.index("torch==") < out.index("--no-cache-dir") < out.index("-e '.[dev]'")
    assert (ROOT / ".venv-gpu").exists() == existed  # nothing ran


def test_cuda_version_can_be_chosen() -> None:
    out = dry_run("GPU=1", "TORCH_CUDA=cu126")
    assert "torch==2.13.0+cu126 --index-url https://download.pytorch.org/whl/cu126" in out


def test_default_run_stays_cpu() -> None:
    out = dry_run()
    assert "pip install -q torch==2.13.0\n" in out
    for gpu_only in ("GGML_CUDA", "download.pytorch.org", "cu130", ".venv-gpu", "no-cache-dir"):
        assert gpu_only not in out
    assert ".venv/bin/python app.py" in out


def test_makefile_runs_nothing_under_dry_run() -> None:
    text = MAKEFILE.read_text()
    assert "$(MAKE)" not in text and "${MAKE}" not in text
    assert "$(shell" not in text
    assert not re.search(r"^\t\+", text, re.MULTILINE)  # a `+` recipe line runs under -n


def test_pins_match_pyproject() -> None:
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    llama = next(pin for pin in pins if pin.startswith("llama-cpp-python=="))
    torch = next(pin for pin in pins if pin.startswith("torch=="))
    text = MAKEFILE.read_text()
    assert f"LLAMA_CPP := {llama}\n" in text
    assert f"TORCH_VERSION := {torch.removeprefix('torch==')}\n" in text
