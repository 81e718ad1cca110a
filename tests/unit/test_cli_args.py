"""The CLI takes its options where people type them: `--kb-root` before or after the
subcommand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import cli_parser

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "kb_root"),
    [
        (["kb", "list"], None),
        (["--kb-root", "A", "kb", "list"], Path("A")),
        (["kb", "--kb-root", "A", "list"], Path("A")),
        (["kb", "list", "--kb-root", "A"], Path("A")),
        (["kb", "add", "知识库", "docs/", "--kb-root", "A"], Path("A")),
        (["kb", "add", "--kb-root", "A", "知识库", "docs/"], Path("A")),
        (["--kb-root", "A", "kb", "search", "kb", "q", "--kb-root", "B"], Path("B")),
        (["eval", "--kb", "kb", "--questions", "q.jsonl", "--kb-root", "A"], Path("A")),
        (["--kb-root", "A", "eval", "--kb", "kb", "--questions", "q.jsonl"], Path("A")),
    ],
)
def test_kb_root_before_or_after_the_subcommand(argv, kb_root):
    assert cli_parser().parse_args(argv).kb_root == kb_root


def test_the_other_arguments_are_read_as_before():
    args = cli_parser().parse_args(["kb", "add", "知识库", "a.md", "b/", "--kb-root", "A"])
    assert (args.group, args.command, args.name) == ("kb", "add", "知识库")
    assert args.paths == [Path("a.md"), Path("b/")]
    search = cli_parser().parse_args(["kb", "search", "kb", "问题", "--top-k", "3", "--json"])
    assert (search.top_k, search.json, search.kb_root) == (3, True, None)


@pytest.mark.parametrize("module", ["rag", "rag.cli"])
def test_python_m_runs_the_cli(module, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", module, "kb", "list", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "--kb-root" in result.stdout
