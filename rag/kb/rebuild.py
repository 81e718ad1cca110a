"""Folders under the KB root besides the knowledge bases, and recovering what a crash left.

A rebuild is built aside and swapped in, so that a crash at any moment loses nothing.
`<kb-root>/.rebuild.<name>/` holds one rebuild:

    new/        the new knowledge base (a complete KB folder), built from the live one's
                originals while searches keep using the live one
    complete    written (fsynced) once new/ is complete
    old/        the live knowledge base, moved here by the swap

The swap: write `complete`, rename `<name>` to old/, rename new/ to `<name>`, remove the
folder (old/ and new/ first, `complete` last). What `RebuildFolder.recover` does with a
folder a crash left:

    no `complete`            the build was cut short; the live KB was never touched: removed
    `complete` and new/      the swap was cut short: finished
    `complete`, no new/      the swap was done, the old copy not yet removed: removed

`.deleted.<random>/<name>/` is a deleted knowledge base being removed (a delete renames it
there first, so that a crash never leaves half a knowledge base), `.recovered/<name>/`
holds originals that belong to no knowledge base any more (never deleted by the app). No
KB name starts with a dot, so none of these is ever taken for a knowledge base.

Versions before this one left `.rebuild-<name>/` holding only the originals (the service
recovers those: `KnowledgeBaseService.check`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rag.atomic import atomic_write, fsync_dir
from rag.errors import InvalidNameError
from rag.kb.names import validate_kb_name

STAGING_PREFIX = ".rebuild."
LEGACY_PREFIX = ".rebuild-"
"""Earlier versions' rebuild folder (`.rebuild-<name>/`, the originals only)."""
DELETED_PREFIX = ".deleted."
RECOVERED_DIR = ".recovered"


@dataclass
class Findings:
    """Problems found by a check: fixed (when `repair`) or left for the user."""

    repair: bool
    repaired: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)

    def found(self, problem: str, fix: Callable[[], str | None] | None) -> None:
        """Record `problem`; with `repair`, run `fix` (its text, if any, replaces it)."""
        if self.repair and fix is not None:
            self.repaired.append(fix() or problem)
        else:
            self.unresolved.append(problem)

    def __bool__(self) -> bool:
        return bool(self.repaired or self.unresolved)


class RebuildFolder:
    """`<root>/.rebuild.<name>/`: one rebuild of knowledge base `name` (see the module doc)."""

    def __init__(self, root: Path, name: str) -> None:
        self.live = root / name
        self.path = root / f"{STAGING_PREFIX}{name}"
        self.new = self.path / "new"
        self.old = self.path / "old"
        self.marker = self.path / "complete"

    def begin(self) -> bool:
        """Claim the folder; False when it exists (a rebuild running elsewhere or left by a
        crash: never reused)."""
        try:
            self.path.mkdir()
        except FileExistsError:
            return False
        return True

    def mark_complete(self) -> None:
        """new/ is complete: from now on a crash finishes the swap instead of undoing it."""
        for folder in [self.new, *(p for p in self.new.iterdir() if p.is_dir())]:
            fsync_dir(folder)
        atomic_write(self.marker, lambda tmp: tmp.write_text("new/ is complete\n"))

    def swap(self) -> None:
        _rename(self.live, self.old)
        _rename(self.new, self.live)

    def remove(self) -> None:
        for part in (self.old, self.new):
            if part.exists():
                shutil.rmtree(part)
        shutil.rmtree(self.path)

    def recover(self, findings: Findings) -> None:
        """Finish or remove what a crash left of this rebuild (nothing when there is none)."""
        if not self.path.is_dir():
            return
        where = f"{self.path.name}/"
        complete = self.marker.is_file()
        if complete and self.new.is_dir() and self.live.exists() and self.old.exists():
            findings.found(
                f"{where}: new/, old/ and the knowledge base are all there: keep one", None
            )
        elif complete and self.new.is_dir():
            findings.found(
                f"a rebuild was cut short while swapping in its new index ({where}): finished",
                self._finish,
            )
        elif complete:
            findings.found(
                f"a rebuild was cut short after its swap ({where}): the old copy removed",
                self.remove,
            )
        elif self.old.is_dir() and not self.live.exists():  # not a state a rebuild leaves
            findings.found(f"{where}old/ was the knowledge base: put back", self._put_back)
        else:
            findings.found(
                f"a rebuild was cut short before its new index was complete ({where}): the "
                "partial copy removed; the knowledge base is as it was, rebuild it again",
                self.remove,
            )

    def _finish(self) -> None:
        if self.live.exists():
            _rename(self.live, self.old)
        _rename(self.new, self.live)
        self.remove()

    def _put_back(self) -> None:
        _rename(self.old, self.live)
        self.remove()


def leftover_names(root: Path) -> set[str]:
    """Names of knowledge bases with a rebuild folder (this version's or an earlier one's)."""
    names = set()
    for path in root.iterdir():
        for prefix in (STAGING_PREFIX, LEGACY_PREFIX):
            if path.is_dir() and path.name.startswith(prefix):
                try:
                    names.add(validate_kb_name(path.name.removeprefix(prefix)))
                except InvalidNameError:
                    continue  # not ours
    return names


def legacy_folder(root: Path, name: str) -> Path:
    return root / f"{LEGACY_PREFIX}{name}"


def move_to_trash(root: Path, path: Path) -> Path:
    """Rename knowledge base `path` out of the way (atomic), to be removed; the trash folder."""
    trash = Path(tempfile.mkdtemp(prefix=DELETED_PREFIX, dir=root))
    _rename(path, trash / path.name)
    return trash


def trash_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(DELETED_PREFIX))


def recovery_folder(root: Path, name: str) -> Path:
    """A new folder name under `<root>/.recovered/` for originals of knowledge base `name`."""
    base = root / RECOVERED_DIR / name
    target, number = base, 1
    while target.exists():
        number += 1
        target = base.with_name(f"{name}-{number}")
    return target


def rescue(files: list[Path], target: Path) -> None:
    """Move `files` into `target` (made here; same file system, so nothing is copied)."""
    target.mkdir(parents=True)
    for path in files:
        os.replace(path, target / path.name)
    fsync_dir(target)


def _rename(source: Path, target: Path) -> None:
    """Rename a folder, never over an existing one, and make the rename durable."""
    if target.exists():
        raise FileExistsError(f"{target} exists; not renaming {source} over it")
    os.rename(source, target)
    fsync_dir(target.parent)
    if source.parent != target.parent:
        fsync_dir(source.parent)
