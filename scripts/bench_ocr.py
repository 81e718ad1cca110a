"""OCR benchmark: speed and character accuracy on scanned pages, and retrieval on scans.

    .venv/bin/python scripts/bench_ocr.py scans --out /tmp/scans          # dev-set PDFs -> scans
    .venv/bin/python scripts/bench_ocr.py speed --pages 24 [--threads 2] [--chatchat]
    .venv/bin/python scripts/bench_ocr.py retrieval --docs 20 --questions 30

* ``scans``: every PDF of the dev set (../shared/devset/corpus/<lang>/*.pdf) printed and
  scanned: each page rendered with PDFium at `--dpi` in grey and saved as an image-only PDF
  (Pillow: one JPEG per page, no text layer), under the same file name.
* ``speed``: the first `--pages` pages of those scans (languages interleaved) read by the
  app's OCR (`rag.loaders.pdf_ocr.plan_pages` + `rag.ocr.OcrPool.read`: the worker process
  renders and reads each page). Pages/s after the worker has started (its start-up, model
  loading included, is reported apart), the workers' CPU seconds per page (which a busy
  machine inflates less than wall time), and the character accuracy of each page against
  the text layer of the original PDF page (`rag.ocr.accuracy`: NFKC, whitespace ignored).
  With `--chatchat`, the same scans through Langchain-Chatchat's RapidOCRPDFLoader approach:
  in this process, one RapidOCR engine with its default threads, each large image's own
  pixels (Chatchat takes them with PyMuPDF, not installed here; PDFium's `get_bitmap` gives
  the same image) read and its lines joined in RapidOCR's order.
* ``retrieval``: a knowledge base (the app's `build_kb_service`, default models) holding
  `--distractors` text documents per language and `--docs` dev-set PDFs; hit@5 of
  `--questions` of those PDFs' questions (`rag.evaluation.evaluate`: a top-5 chunk of the gold
  file holding the answer) with the text PDFs, then with their scans uploaded under the same
  names (replacing them).

Each mode prints a JSON report (and writes it to `--out-json` when given). This machine is
shared: compare runs made close together.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: this checkout's `rag`
DEVSET = Path("/work/shared/devset")
LANGS = ("zh", "zh_tw", "en")


# ---- scans --------------------------------------------------------------------------------


def dev_pdfs(devset: Path) -> list[Path]:
    """The dev set's PDFs, languages interleaved (zh, zh_tw, en, zh, ...)."""
    per_lang = [sorted((devset / "corpus" / lang).glob("*.pdf")) for lang in LANGS]
    return [path for turn in itertools.zip_longest(*per_lang) for path in turn if path]


def scan_pdf(source: Path, target: Path, dpi: int) -> int:
    """`source` rendered page by page at `dpi` in grey, saved as an image-only PDF; pages."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(source))
    try:
        images = []
        for index in range(len(pdf)):
            page = pdf[index]
            images.append(page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L"))
            page.close()
    finally:
        pdf.close()
    images[0].save(target, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return len(images)


def make_scans(out: Path, dpi: int, sources: list[Path]) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    scans = {}
    for source in sources:
        target = out / source.name
        if not target.exists():
            scan_pdf(source, target, dpi)
        scans[source.name] = target
    return scans


def page_texts(path: Path) -> list[str]:
    """The text layer of each page (the reference the OCR is compared with)."""
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(path).pages]


# ---- speed and accuracy -------------------------------------------------------------------


def speed(args: argparse.Namespace) -> dict[str, Any]:
    from rag.loaders.pdf_ocr import plan_pages
    from rag.ocr import OcrOptions, OcrPool
    from rag.ocr.accuracy import char_accuracy

    sources = dev_pdfs(args.devset)
    scans = make_scans(args.scans, args.dpi, sources)
    pool = OcrPool(OcrOptions(workers=args.workers, threads=args.threads))
    jobs, references = [], []
    for source in sources:
        plans = plan_pages(scans[source.name], set(), 10_000, pool)
        jobs += [plan.job for plan in plans]
        references += page_texts(source)[: len(plans)]
        if len(jobs) >= args.pages + 1:
            break
    jobs, references = jobs[: args.pages + 1], references[: args.pages + 1]
    names = [f"{Path(job.path).name}#page={job.index + 1}" for job in jobs[1:]]
    started = time.perf_counter()
    pool.read(jobs[:1])  # starts the worker(s): spawn, imports, models
    startup = time.perf_counter() - started
    started = time.perf_counter()
    texts = pool.read(jobs[1:], lambda line: print(line, file=sys.stderr))
    wall = time.perf_counter() - started
    pool.close()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    accuracy = [char_accuracy(t, r) for t, r in zip(texts, references[1:], strict=True)]
    report = {
        "pages": len(texts),
        "dpi": args.dpi,
        "workers": args.workers,
        "threads": args.threads or "auto",
        "startup_s": round(startup, 2),
        "pages_per_s": round(len(texts) / wall, 3),
        "s_per_page": round(wall / len(texts), 2),
        "worker_cpu_s_per_page_incl_startup": round(
            (cpu.ru_utime + cpu.ru_stime) / (len(texts) + 1), 2
        ),
        **_accuracy_summary(accuracy),
        "page_accuracy": dict(zip(names, (round(a, 4) for a in accuracy), strict=True)),
    }
    if args.texts:
        args.texts.write_text(json.dumps(dict(zip(names, texts, strict=True)), ensure_ascii=False))
    if args.chatchat:
        report["chatchat"] = chatchat_speed(jobs[1:], references[1:])
    return report


def _accuracy_summary(accuracy: list[float]) -> dict[str, Any]:
    return {
        "char_accuracy_mean": round(statistics.mean(accuracy), 4),
        "char_accuracy_median": round(statistics.median(accuracy), 4),
        "char_accuracy_min": round(min(accuracy), 4),
        "pages_at_least_98": sum(a >= 0.98 for a in accuracy),
    }


def chatchat_speed(jobs: list[Any], references: list[str]) -> dict[str, Any]:
    """Chatchat's RapidOCRPDFLoader approach on the same pages (module doc)."""
    import numpy as np
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c
    from rapidocr_onnxruntime import RapidOCR

    from rag.ocr.accuracy import char_accuracy

    started = time.perf_counter()
    engine = RapidOCR()
    startup = time.perf_counter() - started
    cpu_before = time.process_time()
    started = time.perf_counter()
    texts = []
    for job in jobs:
        pdf = pdfium.PdfDocument(job.path)
        page = pdf[job.index]
        width, height = page.get_size()
        textpage = page.get_textpage()
        text = textpage.get_text_range() + "\n"
        textpage.close()
        for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
            left, bottom, right, top = image.get_bounds()
            if (right - left) / width < 0.6 or (top - bottom) / height < 0.6:
                continue
            result, _ = engine(np.array(image.get_bitmap(render=False).to_pil()))
            text += "\n".join(line[1] for line in result or [])
        texts.append(text)
        page.close()
        pdf.close()
    wall = time.perf_counter() - started
    accuracy = [char_accuracy(t, r) for t, r in zip(texts, references, strict=True)]
    return {
        "startup_s": round(startup, 2),
        "pages_per_s": round(len(texts) / wall, 3),
        "s_per_page": round(wall / len(texts), 2),
        "cpu_s_per_page": round((time.process_time() - cpu_before) / len(texts), 2),
        **_accuracy_summary(accuracy),
    }


# ---- retrieval: text PDFs vs their scans --------------------------------------------------


def sample(devset: Path, docs: int, questions: int) -> tuple[list[Path], list[Any]]:
    """`docs` dev-set PDFs that have questions (languages interleaved) and up to `questions`
    of their questions, taken one per document in turn."""
    from rag.evaluation import load_questions

    by_doc: dict[str, list[Any]] = {}
    for lang in LANGS:
        for question in load_questions(devset / "questions" / f"{lang}.jsonl"):
            by_doc.setdefault(question.doc_file, []).append(question)
    chosen = [p for p in dev_pdfs(devset) if by_doc.get(p.name)][:docs]
    picked: list[Any] = []
    for turn in range(max(len(by_doc[p.name]) for p in chosen)):
        for pdf in chosen:
            if turn < len(by_doc[pdf.name]) and len(picked) < questions:
                picked.append(by_doc[pdf.name][turn])
    return chosen, picked


def distractors(devset: Path, per_lang: int) -> list[Path]:
    """The first `per_lang` text documents (md, txt, docx) of each language."""
    files = []
    for lang in LANGS:
        texts = sorted(p for p in (devset / "corpus" / lang).iterdir() if p.suffix != ".pdf")
        files += texts[:per_lang]
    return files


def retrieval(args: argparse.Namespace) -> dict[str, Any]:
    from rag.factory import build_kb_service, offline_environment
    from rag.services import kb_search_fn
    from rag.settings import load_settings

    offline_environment()
    pdfs, questions = sample(args.devset, args.docs, args.questions)
    scans = make_scans(args.scans, args.dpi, pdfs)
    with tempfile.TemporaryDirectory() as root:
        service = build_kb_service(load_settings(), Path(root))
        service.create_kb("ocr-bench")
        others = distractors(args.devset, args.distractors)
        _add(service, [*others, *pdfs])
        search = kb_search_fn(service, "ocr-bench", 0.0)
        text_report, text_hits = by_language(questions, search), top5_hits(questions, search)
        started = time.perf_counter()
        results = _add(service, [scans[p.name] for p in pdfs])
        ocr_s = time.perf_counter() - started
        scan_report, scan_hits = by_language(questions, search), top5_hits(questions, search)
        service.close()
    lost = [q for q, t, s in zip(questions, text_hits, scan_hits, strict=True) if t and not s]
    return {
        "docs": len(pdfs),
        "pages": sum(len(page_texts(p)) for p in pdfs),
        "questions": len(questions),
        "distractor_docs": len(others),
        "dpi": args.dpi,
        "text": text_report,
        "scans": scan_report,
        "scan_ingest_s": round(ocr_s, 1),
        "scan_errors": [f"{r.name}: {r.error}" for r in results if r.status == "error"],
        "lost_with_scans": [f"{q.doc_file}: {q.question} -> {q.answers[0]}" for q in lost],
    }


def top5_hits(questions: list[Any], search: Any) -> list[bool]:
    """Whether each question's answer is in a top-5 chunk of its gold file."""
    from rag.evaluation import is_hit

    return [any(is_hit(q, *hit) for hit in search(q.question, 5)) for q in questions]


def by_language(questions: list[Any], search: Any) -> dict[str, dict[str, Any]]:
    """hit@1, hit@5, doc-hit@5 and MRR@10 of all questions and of each language's."""
    from rag.evaluation import evaluate

    groups = {"all": questions}
    groups |= {lang: [q for q in questions if language(q.doc_file) == lang] for lang in LANGS}
    reports = {
        name: evaluate(name, group, search).as_dict() for name, group in groups.items() if group
    }
    keys = ("questions", "hit@1", "hit@5", "doc_hit@5", "mrr@10")
    return {name: {k: report[k] for k in keys} for name, report in reports.items()}


def language(file_name: str) -> str:
    """zh, zh_tw or en: the dev set's file names start with it (zh_tw_0004.pdf)."""
    return file_name.rsplit("_", 1)[0]


def _add(service: Any, files: list[Path]) -> list[Any]:
    results = service.add_files(
        "ocr-bench",
        [(f.name, f) for f in files],
        on_event=lambda e: print(f"{e.name}: {e.note}", file=sys.stderr) if e.note else None,
    )
    return list(results)


# ---- command line -------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("--devset", type=Path, default=DEVSET, help=f"default {DEVSET}")
    top.add_argument("--dpi", type=int, default=200, help="scan resolution (default 200)")
    top.add_argument(
        "--scans",
        type=Path,
        default=None,
        help="folder of the scanned PDFs, made when missing (default: a temp folder per dpi)",
    )
    top.add_argument("--out-json", type=Path, default=None)
    modes = top.add_subparsers(dest="mode", required=True)
    scans = modes.add_parser("scans", help="turn the dev set's PDFs into image-only PDFs")
    scans.add_argument("--out", type=Path, default=None, help="default: --scans")
    run = modes.add_parser("speed", help="pages/s and character accuracy")
    run.add_argument("--pages", type=int, default=24)
    run.add_argument("--workers", type=int, default=1)
    run.add_argument("--threads", type=int, default=None, help="per worker; default: the app's")
    run.add_argument("--chatchat", action="store_true", help="also Chatchat's approach")
    run.add_argument("--texts", type=Path, default=None, help="write the OCR'd texts here")
    hits = modes.add_parser("retrieval", help="hit@5 on text PDFs vs their scans")
    hits.add_argument("--docs", type=int, default=20)
    hits.add_argument("--questions", type=int, default=30)
    hits.add_argument("--distractors", type=int, default=40, help="text documents per language")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.scans = args.scans or Path(tempfile.gettempdir()) / f"zhiku-devset-scans-{args.dpi}"
    if args.mode == "scans":
        scans = make_scans(args.out or args.scans, args.dpi, dev_pdfs(args.devset))
        report: dict[str, Any] = {"scans": len(scans), "folder": str(args.out or args.scans)}
    elif args.mode == "speed":
        report = speed(args)
    else:
        report = retrieval(args)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.out_json:
        args.out_json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":  # the OCR workers re-import this file: run only when started
    raise SystemExit(main())
