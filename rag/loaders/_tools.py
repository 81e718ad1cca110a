"""Running a Debian command-line tool on a file: antiword (.doc) and catppt (.ppt).

These formats have no maintained pure-Python reader; the Debian tools are small, offline and
fast. They run as a subprocess with a timeout (a malformed file must not hang an upload), no
standard input, and their exit status and error output turned into a per-file error. A tool
that is not installed gives an error naming the package to install (`make` installs them).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DocumentLoadError

TOOL_TIMEOUT_SECONDS = 60.0
"""Longest run of a tool on one file (a few MB of .doc takes well under a second)."""
_MAX_ERROR_CHARS = 200


@dataclass(frozen=True)
class Tool:
    """A command and the Debian package that installs it."""

    command: str
    package: str

    def missing_error(self) -> DocumentLoadError:
        return DocumentLoadError(
            f"{self.command} is not installed: apt-get install {self.package} (make does this)"
        )


ANTIWORD = Tool("antiword", "antiword")
CATPPT = Tool("catppt", "catdoc")


def run_tool(
    tool: Tool, options: Sequence[str], path: Path, timeout: float = TOOL_TIMEOUT_SECONDS
) -> subprocess.CompletedProcess[bytes]:
    """`tool` run with `options` on file `path`; DocumentLoadError when the tool is missing,
    runs past `timeout` seconds or exits with an error.

    It runs in the file's folder on `./<name>`: its messages then name no server path, and
    a name starting with "-" cannot be taken for an option."""
    executable = shutil.which(tool.command)
    if executable is None:
        raise tool.missing_error()
    try:
        done = subprocess.run(
            [executable, *options, f"./{path.name}"],
            cwd=path.parent,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DocumentLoadError(
            f"{tool.command} did not finish within {timeout:.0f} s (the file may be corrupt "
            "or very large) — save it in a current format (.docx, .pptx) and upload that"
        ) from exc
    except FileNotFoundError as exc:  # removed between `which` and the run
        raise tool.missing_error() from exc
    if done.returncode != 0:
        raise DocumentLoadError(
            f"{tool.command} could not read it ({excerpt(done.stderr) or 'no message'}) — "
            "it may be corrupt, encrypted or another format renamed; save it again in a "
            "current format (.docx, .pptx) and upload that"
        )
    return done


def excerpt(output: bytes) -> str:
    """A tool's message on one line, cut to 200 characters."""
    text = " ".join(output.decode("utf-8", errors="replace").split())
    return text[:_MAX_ERROR_CHARS]
