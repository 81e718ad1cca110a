"""JSON and JSON Lines (stdlib json) as readable "key: value" text.

A list of objects (or each JSON Lines record) gives one line per record,
"key: value; nested.key: value", grouped to about 500 characters; any other JSON
document gives one "path.to.key: value" line per leaf value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, Section
from rag.loaders._encoding import read_text_file
from rag.loaders._structure import format_cell, group_lines

_MAX_DEPTH = 50


def load_json(path: Path, limits: LoadLimits) -> list[Section]:
    """Records (list of objects) or leaf paths of one JSON document."""
    del limits
    text = read_text_file(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentLoadError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}) — "
            "fix the file and upload it again"
        ) from exc
    except RecursionError as exc:
        raise DocumentLoadError("JSON nested too deeply — flatten it and upload again") from exc
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        lines = [record_line(item) for item in value]
    else:
        lines = [f"{key}: {leaf}" if key else leaf for key, leaf in flatten(value)]
    return [Section(group) for group in group_lines(line for line in lines if line)]


def load_jsonl(path: Path, limits: LoadLimits) -> list[Section]:
    """One "key: value; ..." line per record."""
    del limits
    lines: list[str] = []
    for number, raw in enumerate(read_text_file(path).splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DocumentLoadError(
                f"line {number} is not valid JSON ({exc.msg}) — fix it and upload again"
            ) from exc
        lines.append(record_line(record))
    return [Section(group) for group in group_lines(line for line in lines if line)]


def record_line(record: object) -> str:
    """A record as "key: value; nested.key: value" (a scalar record as its value)."""
    return "; ".join(f"{key}: {leaf}" if key else leaf for key, leaf in flatten(record))


def flatten(value: object, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """(dotted path, text) for every non-empty leaf; lists of scalars joined with ", "."""
    if depth > _MAX_DEPTH:
        yield prefix, json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from flatten(child, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    elif isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            joined = ", ".join(_scalar(item) for item in value if item is not None)
            if joined:
                yield prefix, joined
        else:
            for index, child in enumerate(value):
                yield from flatten(child, f"{prefix}[{index}]", depth + 1)
    elif value is not None and _scalar(value) != "":
        yield prefix, _scalar(value)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return format_cell(value)
