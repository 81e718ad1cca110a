"""What reading PDF tables as rows (PDF_TABLES) adds to the load time of PDFs.

    .venv/bin/python scripts/bench_pdf_tables.py
    .venv/bin/python scripts/bench_pdf_tables.py --pages 50 --rounds 5 --devset DIR

Loads each set of PDFs as the app does (`rag.loaders.load_file`) with `pdf_tables=False`
and `pdf_tables=True`, interleaved in one process so that load from other jobs hits both
alike (`--rounds` rounds, the fastest of each kept), and prints the seconds and their ratio:

* ``text``: a generated PDF of `--pages` pages of paragraphs, no lines (what most PDFs are:
  the ruling pre-check skips every page);
* ``tables``: the same pages with a ruled 13x4 table on each (the worst case: every page
  goes through pdfplumber);
* ``devset``: the PDFs under `--devset` (the dev set's corpus, if it is there).

With `--ingest`, each set is also taken through the whole ingest but storing (load, the
app's chunker, the configured embedding model: `rag.ingestion.IngestionPipeline`), the cost
a user sees when adding the files.

The generated PDFs are written with reportlab (a dev dependency) into a temporary folder.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from rag.factory import build_chunker
from rag.ingestion import IngestionPipeline
from rag.loaders import load_file
from rag.settings import PROJECT_ROOT, load_settings

DEV_CORPUS = PROJECT_ROOT.parent / "shared" / "devset" / "corpus"
_TEXT = (
    "the quarterly report lists every warehouse with its stock levels and the prices agreed "
    "with suppliers while the audit team checks each figure against the signed contracts"
)


def write_pdf(path: Path, pages: int, tables: bool) -> Path:
    """`pages` pages of four paragraphs; with `tables`, a ruled 13x4 table on each."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

    rng = random.Random(1)
    style = ParagraphStyle("body", fontName="Helvetica", fontSize=10, leading=14)
    story: list[object] = []
    for page in range(pages):
        if page:
            story.append(PageBreak())
        paragraphs = [" ".join(rng.choices(_TEXT.split(), k=110)) + "." for _ in range(4)]
        story += [Paragraph(text, style) for text in paragraphs[:3]]
        if tables:
            rows = [["Item", "Price", "Stock", "Warehouse"]]
            rows += [[f"item {page}-{n}", str(n * 7), str(n * 31), f"W{n % 5}"] for n in range(12)]
            table = Table(rows)
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
            story.append(table)
        story.append(Paragraph(paragraphs[3], style))
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return path


def load_seconds(paths: list[Path], pdf_tables: bool) -> tuple[float, int]:
    """Seconds to load every file, and the number of table documents they gave."""
    start = time.perf_counter()
    tables = 0
    for path in paths:
        documents = load_file(path, path.name, pdf_tables=pdf_tables)
        tables += sum(1 for doc in documents if doc.metadata.get("table"))
    return time.perf_counter() - start, tables


def ingest_seconds(
    paths: list[Path], pdf_tables: bool, pipelines: dict[bool, IngestionPipeline]
) -> tuple[float, int]:
    """Seconds to load, split and embed every file, and the number of table chunks."""
    start = time.perf_counter()
    chunked = list(pipelines[pdf_tables].run(paths))
    tables = sum(1 for file in chunked for chunk in file.chunks if chunk.metadata.get("table"))
    return time.perf_counter() - start, tables


def make_pipelines() -> dict[bool, IngestionPipeline]:
    """The app's chunker and embedding model, without and with PDF tables."""
    from rag.embeddings import build_embeddings

    settings = load_settings()
    models = settings.models
    embeddings = build_embeddings(models.embedding, models.embedding_device, models.embedding_model)
    dimension = len(embeddings.embed_query("dimension probe"))
    chunker = build_chunker(settings)
    return {
        flag: IngestionPipeline(chunker, embeddings, dimension, pdf_tables=flag)
        for flag in (False, True)
    }


def bench(
    name: str,
    paths: list[Path],
    rounds: int,
    pipelines: dict[bool, IngestionPipeline] | None = None,
) -> None:
    """Print the fastest load of `paths` without and with tables, and their ratio (the
    whole ingest but storing, with `pipelines`)."""
    best = {False: float("inf"), True: float("inf")}
    tables = 0
    for _ in range(rounds):
        for pdf_tables in (False, True):
            if pipelines is None:
                seconds, found = load_seconds(paths, pdf_tables)
            else:
                seconds, found = ingest_seconds(paths, pdf_tables, pipelines)
            best[pdf_tables] = min(best[pdf_tables], seconds)
            tables = max(tables, found)
    pages = sum(_page_count(path) for path in paths)
    print(
        f"{name:8} {len(paths):5} {pages:6} {best[False]:9.2f} {best[True]:9.2f} "
        f"{best[True] / best[False]:6.2f}x {1000 * (best[True] - best[False]) / pages:9.1f} "
        f"{tables:7}"
    )


def _page_count(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=50, help="pages of the generated PDFs")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (min kept)")
    parser.add_argument("--devset", type=Path, default=DEV_CORPUS, help="folder of PDFs")
    parser.add_argument("--ingest", action="store_true", help="also time load+split+embed")
    args = parser.parse_args(argv)
    devset = sorted(args.devset.rglob("*.pdf")) if args.devset.is_dir() else []
    if not devset:
        print(f"devset: no PDFs under {args.devset} (pass --devset DIR)", file=sys.stderr)
    stages: list[tuple[str, dict[bool, IngestionPipeline] | None]] = [("load", None)]
    if args.ingest:
        stages.append(("ingest", make_pipelines()))
    with tempfile.TemporaryDirectory() as folder:
        sets = [
            (name, [write_pdf(Path(folder) / f"{name}.pdf", args.pages, tables)])
            for name, tables in (("text", False), ("tables", True))
        ]
        sets += [("devset", devset)] if devset else []
        for stage, pipelines in stages:
            print(f"{stage}: set  files  pages  no tables   tables  ratio  +ms/page  tables")
            for name, paths in sets:
                bench(name, paths, args.rounds, pipelines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
