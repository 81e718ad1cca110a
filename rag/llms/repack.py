"""llama.cpp's weight repacking: off unless an entry asks for it; "auto" only where it runs.

At load, llama.cpp's CPU backend may repack quantized weights into an interleaved layout
(its "extra buffer types") for faster matrix products. On some CPUs a natively built
llama.cpp 0.3.36 then dies with SIGSEGV on the first prompt longer than one token (seen here:
a Xeon with AVX512-FP16/BF16; the same wheel without repacking, or a portable AVX2 build
with it, answer correctly). A segfault cannot be caught in Python, so `"auto"` tries it once
per machine in a child process and remembers the outcome in the cache folder.

Measured on the machine that crashes (Qwen2.5-Coder 1.5B Q4_K_M, 368-token prompt): native
build without repacking, first token 3.2 s; portable AVX2 build with repacking, 6.5 s.
The crash is in llama.cpp's AMX kernels (that CPU, a VM, reports AMX): a native build with
AMX left out (`-mno-amx-tile -mno-amx-int8 -mno-amx-bf16`) repacks without crashing, but
evaluates prompts slower than the same build without repacking (788 tokens, 2 cores, two
interleaved rounds: 7.8-8.3 s vs 5.8-6.3 s), so the build keeps AMX and "auto" turns
repacking off on such machines. On an AMD EPYC, where it does not crash, repacking also made
the prompt slower (637 tokens: first token 6.1 s against 4.1-4.3 s without, decode 1.15x
faster; `scripts/bench_llm.py`), so `weight_repack` is "off" unless an entry says otherwise.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

RepackMode = Literal["auto", "on", "off"]

PROBE_TIMEOUT_S = 300.0
"""Loading a large model in the child can take a while on a busy machine."""

_PROBE_SCRIPT = """
import sys
from llama_cpp import Llama
from rag.llms.repack import llama_params
with llama_params(use_extra_bufts=True):
    llm = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
llm("The probe checks that a prompt of several tokens evaluates.", max_tokens=1, temperature=0)
"""

_PATCH_LOCK = threading.Lock()


@contextmanager
def llama_params(*, use_extra_bufts: bool) -> Iterator[None]:
    """`llama_cpp.Llama(...)` built inside this block loads with repacking on or off.

    llama-cpp-python's `Llama` has no argument for llama.cpp's `use_extra_bufts`: it starts
    from `llama_model_default_params()`, so that function is wrapped for the duration of the
    block (under a lock, as it is shared by every `Llama` of the process).
    """
    import llama_cpp
    import llama_cpp.llama as llama_module

    with _PATCH_LOCK:
        original = llama_module.llama_cpp.llama_model_default_params

        def with_choice() -> llama_cpp.llama_model_params:
            params = original()
            params.use_extra_bufts = use_extra_bufts
            return params

        llama_module.llama_cpp.llama_model_default_params = with_choice
        try:
            yield
        finally:
            llama_module.llama_cpp.llama_model_default_params = original


def machine_key(model_path: Path) -> str:
    """What the outcome depends on: the llama.cpp build, the CPU and the model's file."""
    import llama_cpp

    flags = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        flags = next(
            (line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), ""
        )
    parts = [llama_cpp.__version__, str(Path(llama_cpp.__file__).stat().st_mtime_ns), flags]
    parts.append(f"{model_path.name}:{model_path.stat().st_size}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def probe_in_child(model_path: Path, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True if a child process loads `model_path` with repacking and evaluates a prompt."""
    root = Path(__file__).resolve().parents[2]
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE_SCRIPT, str(model_path)],
            cwd=root,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False  # a hung probe proves nothing; loading without repacking is always safe
    return result.returncode == 0


def repack_enabled(
    mode: RepackMode,
    model_path: Path,
    cache_dir: Path,
    probe: Callable[[Path], bool] = probe_in_child,
) -> bool:
    """Whether to load `model_path` with repacking: `mode`, or for "auto" the remembered or
    freshly probed outcome on this machine."""
    if mode != "auto":
        return mode == "on"
    record = cache_dir / "llama-repack.json"
    key = machine_key(model_path)
    known: dict[str, bool] = {}
    if record.exists():
        try:
            known = json.loads(record.read_text())
        except ValueError:
            known = {}  # a torn write: probe again
    if key not in known:
        known[key] = probe(model_path)
        record.parent.mkdir(parents=True, exist_ok=True)
        temporary = record.with_suffix(".tmp")
        temporary.write_text(json.dumps(known))
        temporary.replace(record)
    return known[key]
