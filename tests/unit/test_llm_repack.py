"""repack_enabled: the configured choice, or a probe run once per machine and remembered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.llms.repack import repack_enabled


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF fake")
    return path


class CountingProbe:
    """A probe that answers `outcome` and counts its calls (the real one starts a process)."""

    def __init__(self, outcome: bool) -> None:
        self.outcome = outcome
        self.calls = 0

    def __call__(self, path: Path) -> bool:
        self.calls += 1
        return self.outcome


@pytest.mark.parametrize(("mode", "expected"), [("on", True), ("off", False)])
def test_explicit_mode_never_probes(mode, expected, model, tmp_path):
    probe = CountingProbe(outcome=not expected)
    assert repack_enabled(mode, model, tmp_path / "cache", probe) is expected
    assert probe.calls == 0


@pytest.mark.parametrize("outcome", [True, False])
def test_auto_probes_once_and_remembers(outcome, model, tmp_path):
    cache = tmp_path / "cache"
    probe = CountingProbe(outcome)
    assert repack_enabled("auto", model, cache, probe) is outcome
    assert repack_enabled("auto", model, cache, probe) is outcome
    assert probe.calls == 1
    assert list(json.loads((cache / "llama-repack.json").read_text()).values()) == [outcome]


def test_auto_probes_again_for_another_model_file(model, tmp_path):
    cache = tmp_path / "cache"
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF another")
    probe = CountingProbe(outcome=False)
    repack_enabled("auto", model, cache, probe)
    repack_enabled("auto", other, cache, probe)
    assert probe.calls == 2


def test_a_torn_record_is_probed_again(model, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "llama-repack.json").write_text('{"abc": tr')
    probe = CountingProbe(outcome=True)
    assert repack_enabled("auto", model, cache, probe) is True
    assert probe.calls == 1


def test_a_probe_that_hangs_counts_as_a_crash(model, monkeypatch):
    import subprocess

    from rag.llms import repack

    def hang(*args, **kwargs):
        raise subprocess.TimeoutExpired(cmd="probe", timeout=kwargs["timeout"])

    monkeypatch.setattr(repack.subprocess, "run", hang)
    assert repack.probe_in_child(model, timeout_s=0.1) is False


def test_a_probe_that_crashes_counts_as_a_crash(model, tmp_path, monkeypatch):
    """A real child that dies of SIGSEGV, as llama.cpp does where repacking breaks."""
    from rag.llms import repack

    monkeypatch.setattr(
        repack, "_PROBE_SCRIPT", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    )
    assert repack.probe_in_child(model) is False
    monkeypatch.setattr(repack, "_PROBE_SCRIPT", "pass")
    assert repack.probe_in_child(model) is True
