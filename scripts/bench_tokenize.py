"""Lexical tokenization time against text length, jieba given whole CJK runs vs bounded pieces.

    .venv/bin/python scripts/bench_tokenize.py
    .venv/bin/python scripts/bench_tokenize.py --lengths 10000,100000,1000000 --baseline-max 40000
    .venv/bin/python scripts/bench_tokenize.py --check ../shared/devset/corpus/zh_tw ...

Times `Tokenizer.tokenize` (the app's default mode, jieba words + character bigrams) on
texts of each length, before ("whole": `max_jieba_chars=None`, jieba cuts each CJK run in
one go, as the app did) and after ("pieces": the default `MAX_JIEBA_CHARS`), interleaved in
one process so that load from other jobs hits both alike (`--repeats` rounds, the fastest
of each kept):

* ``unknown``: one rare character repeated (jieba's dictionary does not split it, so its HMM
  reads the whole run: the worst case);
* ``text``: the corpus given with `--text-from` (default: the dev set's Traditional files
  as they are), repeated to the length; its CJK runs end at punctuation;
* ``run``: the same text with everything but Han characters removed, one long CJK run of
  real words (the pieces are cut next to dictionary words).

The whole-run baseline is quadratic, so it is timed only up to `--baseline-max` characters.
µs/char staying flat as the length grows is what linear looks like. A second table times
the configured splitter on the same texts (ingest splits a document, then tokenizes chunks).

`--check DIR...` loads every file as the app does (`rag.loaders.load_file`), splits it into
the app's chunks (`rag.factory.build_chunker`: the configured splitter and title rule), and
compares the tokens of every chunk, and of every document stripped to one CJK run, between
the two; it prints the number that differ (0 means existing lexical indexes are unchanged).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rag.errors import ZhikuError
from rag.factory import build_chunker
from rag.lexical.tokenize import MAX_JIEBA_CHARS, Tokenizer
from rag.loaders import load_file
from rag.settings import PROJECT_ROOT, load_settings
from rag.splitters import build_splitter

DEV_CORPUS = PROJECT_ROOT.parent / "shared" / "devset" / "corpus" / "zh_tw"
RARE_CHARACTER = "\u9fa0"  # a Han character jieba's dictionary does not know
_NOT_HAN = re.compile(r"[^\u4e00-\u9fff]+")


def corpus_text(folder: Path, limit: int = 200_000) -> str:
    """Up to `limit` characters of the folder's plain-text and Markdown files."""
    parts: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.suffix in {".txt", ".md"} and sum(map(len, parts)) < limit:
            parts.append(path.read_text("utf-8", errors="replace"))
    if not parts:
        sys.exit(f"no .txt or .md files in {folder}; pass --text-from DIR")
    return "\n".join(parts)


def repeat_to(text: str, length: int) -> str:
    return (text * (length // len(text) + 1))[:length]


def seconds(tokenize: Callable[[str], list[str]], text: str) -> float:
    start = time.perf_counter()
    tokenize(text)
    return time.perf_counter() - start


def bench(args: argparse.Namespace) -> None:
    whole = Tokenizer(max_jieba_chars=None)
    pieces = Tokenizer(max_jieba_chars=args.max_jieba_chars)
    text = corpus_text(args.text_from)
    kinds = {
        "unknown": RARE_CHARACTER,
        "text": text,
        "run": _NOT_HAN.sub("", text),
    }
    for tokenizer in (whole, pieces):
        tokenizer.tokenize("热身 warm-up")  # load jieba's dictionary outside the timing
    print(f"max_jieba_chars = {args.max_jieba_chars}; seconds (µs per character)\n")
    print("| text | characters | whole runs (before) | pieces (after) | after / before |")
    print("|---|---:|---:|---:|---:|")
    for kind, source in kinds.items():
        for length in args.lengths:
            sample = repeat_to(source, length)
            timed = length <= args.baseline_max
            afters, befores = [], []
            for _ in range(args.repeats):  # interleaved; the fastest of each is kept
                afters.append(seconds(pieces.tokenize, sample))
                if timed:
                    befores.append(seconds(whole.tokenize, sample))
            after, before = min(afters), (min(befores) if timed else None)
            ratio = f"{after / before:.3f}×" if before else "–"
            print(
                f"| {kind} | {length:,} | {_cell(before, length)} | {_cell(after, length)} "
                f"| {ratio} |",
                flush=True,
            )
    bench_splitter(kinds, args.lengths)


def bench_splitter(kinds: dict[str, str], lengths: list[int]) -> None:
    """The configured splitter on the same texts: ingest splits a document before it
    tokenizes its chunks."""
    settings = load_settings()
    splitter = build_splitter(
        settings.chunking.splitter, settings.chunking.size, settings.chunking.overlap
    )
    print(f"\n{settings.chunking.splitter} splitter, CHUNK_SIZE {settings.chunking.size}\n")
    print("| text | characters | seconds (µs per character) | chunks |")
    print("|---|---:|---:|---:|")
    for kind, source in kinds.items():
        for length in lengths:
            sample = repeat_to(source, length)
            start = time.perf_counter()
            chunks = splitter.split_text(sample)
            cell = _cell(time.perf_counter() - start, length)
            print(f"| {kind} | {length:,} | {cell} | {len(chunks):,} |", flush=True)


def _cell(duration: float | None, length: int) -> str:
    if duration is None:
        return "not timed"
    return f"{duration:.3f} s ({duration / length * 1e6:.2f})"


def check(folders: list[Path], max_jieba_chars: int) -> int:
    """Chunks and stripped documents whose tokens differ between whole runs and pieces."""
    whole = Tokenizer(max_jieba_chars=None)
    pieces = Tokenizer(max_jieba_chars=max_jieba_chars)
    chunker = build_chunker(load_settings())
    files = chunks = differ = longest = 0
    for path in sorted(p for folder in folders for p in folder.iterdir() if p.is_file()):
        try:
            documents = load_file(path, path.name)
        except ZhikuError as exc:
            print(f"skipped {path.name}: {exc}")
            continue
        files += 1
        texts = [chunk.text for chunk in chunker.split(documents)]
        chunks += len(texts)
        longest = max(longest, *(len(run) for text in texts for run in _NOT_HAN.split(text)))
        texts.append(_NOT_HAN.sub("", "".join(d.page_content for d in documents)))
        for text in texts:
            if whole.tokenize(text) != pieces.tokenize(text):
                differ += 1
                print(f"differs: {path.name}: {text[:60]!r}")
    print(
        f"{files} files: {chunks} chunks (longest Han run {longest} characters) and the "
        f"{files} documents stripped to one Han run each: {differ} tokenized differently"
    )
    return differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--lengths",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10_000, 20_000, 40_000, 100_000, 1_000_000],
    )
    parser.add_argument("--baseline-max", type=int, default=40_000)
    parser.add_argument("--repeats", type=int, default=2, help="timings per cell (fastest kept)")
    parser.add_argument("--max-jieba-chars", type=int, default=MAX_JIEBA_CHARS)
    parser.add_argument("--text-from", type=Path, default=DEV_CORPUS)
    parser.add_argument("--check", type=Path, nargs="+", help="corpus folders to compare on")
    args = parser.parse_args()
    if args.check:
        sys.exit(1 if check(args.check, args.max_jieba_chars) else 0)
    bench(args)


if __name__ == "__main__":
    main()
