"""What a crash leaves of a rebuild or a delete is finished or removed by the start-up check
(`check_all`), never reused; an earlier version's `.rebuild-<name>/` is neither lost nor
brought back into a knowledge base it no longer belongs to."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

import rag.kb.rebuild as rebuild
from rag.errors import KnowledgeBaseBusyError
from rag.factory import build_kb_service
from rag.ingestion import IngestOptions
from rag.kb.rebuild import RebuildFolder
from rag.services import KnowledgeBaseService
from rag.settings import load_settings


class SimulatedCrash(BaseException):
    """The process dies here: no cleanup runs (the tests also make `remove` do nothing)."""


def make_service(root: Path) -> KnowledgeBaseService:
    return build_kb_service(
        load_settings(env={}),
        root,
        DeterministicFakeEmbedding(size=16),
        ingest=IngestOptions(batch_files=2),
    )


def write_docs(tmp: Path, names: list[str]) -> list[tuple[str, Path]]:
    folder = tmp / "in"
    folder.mkdir(exist_ok=True)
    files = []
    for name in names:
        path = folder / name
        path.write_text(f"{name} 这份文件的内容是关于{name}的。", encoding="utf-8")
        files.append((name, path))
    return files


def created_at(kb_dir: Path) -> str:
    db = sqlite3.connect(kb_dir / "kb.sqlite")
    try:
        return db.execute("SELECT value FROM info WHERE key = 'created_at'").fetchone()[0]
    finally:
        db.close()


def restart(root: Path) -> tuple[KnowledgeBaseService, list[str]]:
    """A new service over `root` after the start-up check; the lines it repaired."""
    service = make_service(root)
    reports = service.check_all(repair=True)
    assert all(report.ok for report in reports), reports
    return service, [line for report in reports for line in report.repaired]


def assert_whole(service: KnowledgeBaseService, names: list[str]) -> None:
    assert [d["name"] for d in service.list_docs("t1")] == names
    assert sorted(p.name for p in (service.root / "t1" / "content").iterdir()) == names
    assert service.check("t1").repaired == []
    assert service.search("t1", f"关于{names[-1]}", 1, 0.0)[0].source == names[-1]
    assert sorted(p.name for p in service.root.iterdir()) == ["t1"]


NAMES = [f"d{i}.txt" for i in range(7)]
CRASH_POINTS = {
    # where the process dies: (what to break, which call of it, is the new KB in place after)
    "during the build": ("embed", 2, False),
    "after marking complete": ("rename", 1, True),
    "between the two renames": ("rename", 2, True),
    "after the swap, before removing the old copy": ("remove", 1, True),
}


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_rebuild_cut_short_anywhere_is_recovered_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
):
    root = tmp_path / "kbs"
    service = make_service(root)
    service.create_kb("t1")
    service.add_files("t1", write_docs(tmp_path, NAMES))
    old_created = created_at(root / "t1")
    what, nth, swapped = CRASH_POINTS[point]
    calls = {"embed": 0, "rename": 0, "remove": 0}

    def crash_on(kind: str, original):
        def call(*args, **kwargs):
            calls[kind] += 1
            if kind == what and calls[kind] == nth:
                raise SimulatedCrash(point)
            return None if kind == "remove" else original(*args, **kwargs)

        return call

    pipeline = service.ingestor.pipeline
    monkeypatch.setattr(pipeline, "embed", crash_on("embed", pipeline.embed))
    monkeypatch.setattr(rebuild, "_rename", crash_on("rename", rebuild._rename))
    monkeypatch.setattr(RebuildFolder, "remove", crash_on("remove", None))
    with pytest.raises(SimulatedCrash):
        service.rebuild_kb("t1")
    monkeypatch.undo()
    assert (root / ".rebuild.t1").is_dir()

    service, repaired = restart(root)
    assert len(repaired) == 1 and ".rebuild.t1/" in repaired[0]
    assert_whole(service, NAMES)
    assert (created_at(root / "t1") != old_created) is swapped


def test_check_without_repair_reports_a_leftover_and_keeps_it(tmp_path: Path, monkeypatch):
    root = tmp_path / "kbs"
    service = make_service(root)
    service.create_kb("t1")
    service.add_files("t1", write_docs(tmp_path, NAMES))
    monkeypatch.setattr(RebuildFolder, "remove", lambda self: None)
    monkeypatch.setattr(rebuild, "_rename", lambda *a: (_ for _ in ()).throw(SimulatedCrash()))
    with pytest.raises(SimulatedCrash):
        service.rebuild_kb("t1")
    monkeypatch.undo()
    [report] = make_service(root).check_all(repair=False)
    assert not report.ok and "swapping in its new index" in report.unresolved[0]
    assert (root / ".rebuild.t1" / "complete").is_file()
    # a rebuild refuses to reuse it and says what to do
    with pytest.raises(KnowledgeBaseBusyError, match="rag kb check t1"):
        make_service(root).rebuild_kb("t1")


def make_legacy(root: Path, tmp: Path, names: list[str]) -> Path:
    """What the earlier rebuild left: `.rebuild-t1/` holding the originals only."""
    legacy = root / ".rebuild-t1"
    legacy.mkdir(parents=True)
    for name, path in write_docs(tmp, names):
        (legacy / name).write_bytes(path.read_bytes())
    return legacy


def test_legacy_folder_of_a_rebuild_cut_short_is_added_back(tmp_path: Path):
    root = tmp_path / "kbs"
    service = make_service(root)
    service.create_kb("t1")
    service.add_files("t1", write_docs(tmp_path, NAMES[:3]))  # the part re-added before the crash
    make_legacy(root, tmp_path, NAMES)
    service, repaired = restart(root)
    assert any(".rebuild-t1/" in line and "4 added back" in line for line in repaired)
    assert_whole(service, NAMES)


def test_legacy_folder_of_a_kb_made_anew_is_moved_aside_not_brought_back(tmp_path: Path):
    root = tmp_path / "kbs"
    service = make_service(root)
    service.create_kb("t1")
    service.add_files("t1", write_docs(tmp_path, ["new.txt"]))  # deleted and created again
    make_legacy(root, tmp_path, NAMES)
    service, repaired = restart(root)
    recovered = root / ".recovered" / "t1"
    assert any(str(recovered) in line for line in repaired)
    assert sorted(p.name for p in recovered.iterdir()) == NAMES
    assert [d["name"] for d in service.list_docs("t1")] == ["new.txt"]
    assert not (root / ".rebuild-t1").exists()


def test_legacy_folder_of_a_deleted_kb_is_kept_but_not_resurrected(tmp_path: Path):
    root = tmp_path / "kbs"
    make_legacy(root, tmp_path, NAMES)
    service, repaired = restart(root)
    assert not service.exists("t1") and service.list_kbs() == []
    recovered = root / ".recovered" / "t1"
    assert sorted(p.name for p in recovered.iterdir()) == NAMES
    assert any(str(recovered) in line for line in repaired)
    # a second time, nothing is left to do and the files stay
    assert restart(root)[1] == [] and sorted(p.name for p in recovered.iterdir()) == NAMES


def test_a_delete_cut_short_is_finished_and_staging_is_never_listed(tmp_path: Path):
    root = tmp_path / "kbs"
    service = make_service(root)
    service.create_kb("t1")
    service.add_files("t1", write_docs(tmp_path, NAMES[:2]))
    trash = rebuild.move_to_trash(root, root / "t1")  # the delete's rename, then the crash
    service.create_kb("t1")
    RebuildFolder(root, "t1").begin()
    (root / ".rebuild.t1" / "new").mkdir()
    assert [s.name for s in service.list_kbs()] == ["t1"]
    service, repaired = restart(root)
    assert not trash.exists() and sorted(p.name for p in root.iterdir()) == ["t1"]
    assert len(repaired) == 2


def test_check_in_a_running_service_swaps_under_no_open_store(tmp_path: Path, monkeypatch):
    """`rag kb check` / `check` while the old store is open: it is closed before the swap,
    so later writes go to the new knowledge base, not to the removed one."""
    root = tmp_path / "kbs"
    service = make_service(root)
    service.create_kb("t1")
    service.add_files("t1", write_docs(tmp_path, NAMES[:3]))
    monkeypatch.setattr(RebuildFolder, "remove", lambda self: None)
    monkeypatch.setattr(rebuild, "_rename", lambda *a: (_ for _ in ()).throw(SimulatedCrash()))
    with pytest.raises(SimulatedCrash):
        service.rebuild_kb("t1")
    monkeypatch.undo()
    assert service.search("t1", "关于d1.txt", 1, 0.0)[0].source == "d1.txt"  # opens the old one
    assert "swapping in its new index" in service.check("t1").repaired[0]
    service.add_files("t1", write_docs(tmp_path, ["late.txt"]))
    assert_whole(make_service(root), [*NAMES[:3], "late.txt"])
