"""Files inside a file (e-mail attachments): each read by the loader of its own type.

An attachment's sections carry its name in `Section.part`, so its chunks are cited as
`mail.eml/report.pdf` (page numbers and headings its own loader gives) while they stay
chunks of the uploaded mail: deleting, replacing or rebuilding the mail does the same to its
attachments, and nothing else in the store has to know about them.

One attachment that cannot be read (a type no loader reads, corrupt, encrypted, empty) is
skipped with a note in the mail's own text, never failing the mail. Guards: attachments are
read to `MAX_ATTACHMENT_DEPTH` levels (a mail attached to a mail attached to a mail), and
the attachments of one mail are read up to `LoadLimits.max_unzipped_bytes` in total (the
limit of what one zip-based file may unpack to); the rest are skipped with a note.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from rag.errors import DocumentLoadError, UnsupportedFileTypeError, ZhikuError
from rag.loaders._common import Loader, LoadLimits, PartLoader, Section
from rag.loaders._title import carry_title

MAX_ATTACHMENT_DEPTH = 3
"""Attachments are read while the file holding them is less deep than this."""
_MAX_PART_NAME_CHARS = 120
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")
_MB = 1024 * 1024


@dataclass(frozen=True)
class Attachment:
    """A file found inside another: its name as given (may be empty or hostile) and bytes."""

    name: str
    data: bytes
    problem: str = ""
    """Why its content could not be taken out of the mail ("" when it was)."""


def read_part(
    name: str,
    data: bytes,
    limits: LoadLimits,
    loaders: Mapping[str, Loader],
    title_formats: Collection[str],
) -> list[Section]:
    """The sections of attached file `name`, each with `part` = `name` (prefixed to a
    deeper part's). Raises UnsupportedFileTypeError or DocumentLoadError."""
    extension = PurePath(name).suffix.lower()
    loader = loaders.get(extension)
    if loader is None:
        raise UnsupportedFileTypeError(f"file type {extension or '(none)'} is not supported")
    if not data:
        raise DocumentLoadError("empty file")
    with tempfile.TemporaryDirectory(prefix="zhiku-part-") as folder:
        path = Path(folder) / f"part{extension}"  # never the attachment's own name
        path.write_bytes(data)
        sections = loader(path, replace(limits, depth=limits.depth + 1))
    if extension in title_formats:
        sections = carry_title(sections)
    return [replace(s, part=f"{name}/{s.part}" if s.part else name) for s in sections]


def attachment_sections(
    attachments: Sequence[Attachment], limits: LoadLimits, load_part: PartLoader
) -> tuple[list[Section], list[str]]:
    """The sections of every readable attachment, and one line per attachment for the
    mail's own text: its name, with the reason when it was skipped."""
    sections: list[Section] = []
    listing: list[str] = []
    budget = limits.max_unzipped_bytes
    for name, attachment in zip(part_names(attachments), attachments, strict=True):
        data = attachment.data
        reason = attachment.problem or _skip_reason(limits, data, budget)
        if reason is None:
            budget -= len(data)
            found, reason = _read(name, data, limits, load_part)
            sections.extend(found)
        listing.append(name if reason is None else f"{name} (not indexed: {reason})")
    return sections, listing


def _skip_reason(limits: LoadLimits, data: bytes, budget: int) -> str | None:
    if limits.depth + 1 > MAX_ATTACHMENT_DEPTH:
        return f"attachments are read {MAX_ATTACHMENT_DEPTH} levels deep at most"
    if len(data) > budget:
        return (
            f"the attachments together exceed {limits.max_unzipped_bytes / _MB:.0f} MB; "
            "upload it on its own"
        )
    return None


def _read(
    name: str, data: bytes, limits: LoadLimits, load_part: PartLoader
) -> tuple[list[Section], str | None]:
    """The attachment's sections, or none and why."""
    try:
        found = load_part(name, data, limits)
    except ZhikuError as exc:
        return [], str(exc)
    except RecursionError:
        return [], "nested too deeply to read"
    except Exception as exc:  # a library's own error on a malformed attachment
        return [], f"could not read it ({type(exc).__name__}) — it may be corrupt"
    if not any(section.text.strip() for section in found):
        return [], "no text found"
    return found, None


def part_names(attachments: Sequence[Attachment]) -> list[str]:
    """A safe, distinct name per attachment: the last path component of its own name,
    control characters and slashes dropped ("attachment-N" when nothing is left); a name
    seen before gets " (2)", " (3)", ... before its extension."""
    names: list[str] = []
    seen: set[str] = set()
    for number, attachment in enumerate(attachments, start=1):
        name = safe_part_name(attachment.name) or f"attachment-{number}"
        stem, suffix = _split(name)
        candidate, copy = name, 1
        while candidate.lower() in seen:
            copy += 1
            candidate = f"{stem} ({copy}){suffix}"
        seen.add(candidate.lower())
        names.append(candidate)
    return names


def safe_part_name(name: str) -> str:
    """`name` without directories, control characters or slashes, at most 120 characters
    (the extension kept); "" when nothing usable is left."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("", base).strip().strip(".")
    if len(base) > _MAX_PART_NAME_CHARS:
        stem, suffix = _split(base)
        base = stem[: _MAX_PART_NAME_CHARS - len(suffix)].rstrip() + suffix
    return base


def _split(name: str) -> tuple[str, str]:
    suffix = PurePath(name).suffix
    if len(suffix) > 16:  # not an extension, a dot in a long name
        suffix = ""
    return name[: len(name) - len(suffix)], suffix


__all__ = [
    "MAX_ATTACHMENT_DEPTH",
    "Attachment",
    "attachment_sections",
    "part_names",
    "read_part",
    "safe_part_name",
]
