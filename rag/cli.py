"""Command line: `python app.py` (serve) and `rag kb …` (manage knowledge bases)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ZhikuError

if TYPE_CHECKING:
    from rag.ingestion import IngestEvent
    from rag.settings import Settings

LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="zhiku web app (UI + REST API)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--kb-root", type=Path, default=None, help="default: KB_ROOT_PATH")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding a non-loopback address without authentication (prints a warning)",
    )
    return parser


def exposed_without_auth(host: str, settings: Settings) -> str:
    """Why a non-loopback bind is refused, naming the settings still missing."""
    missing = [
        name
        for name, value in (
            ("API_TOKEN", settings.server.api_token),
            ("UI_USERNAME", settings.server.ui_username),
            ("UI_PASSWORD", settings.server.ui_password),
        )
        if not value
    ]
    return (
        f"error: --host {host} exposes your documents to the network, and {', '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} not set: the API needs API_TOKEN and the "
        "browser UI a login (UI_USERNAME and UI_PASSWORD), in configs/server_config.py or as "
        "ZHIKU_API_TOKEN, ZHIKU_UI_USERNAME, ZHIKU_UI_PASSWORD. Or bind 127.0.0.1, or pass "
        "--insecure if you really mean it"
    )


def serve_main(argv: Sequence[str] | None = None) -> None:
    args = serve_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("faiss").setLevel(logging.WARNING)
    try:
        from rag.api.serving import serve
        from rag.factory import build_services, create_app
        from rag.settings import load_settings

        settings = load_settings()
        if not is_loopback(args.host) and not (settings.server.auth_configured or args.insecure):
            sys.exit(exposed_without_auth(args.host, settings))
        services = build_services(settings, kb_root=args.kb_root)
        app = create_app(services, bind_host=args.host)
    except ZhikuError as exc:
        sys.exit(f"error: {exc}")
    if args.insecure and not is_loopback(args.host) and not settings.server.auth_configured:
        logging.warning("serving on %s WITHOUT authentication (--insecure)", args.host)
    print(f"Running on http://{args.host}:{args.port}", flush=True)
    serve(
        app,
        args.host,
        args.port,
        settings.server.shutdown_timeout_s,
        settings.server.client_timeout_s,
    )


def cli_parser() -> argparse.ArgumentParser:
    """`rag kb …` and `rag eval …`. `--kb-root` goes where people type it: before the
    subcommand (`rag --kb-root DIR kb list`) or after it (`rag kb add NAME PATH --kb-root
    DIR`)."""
    parser = argparse.ArgumentParser(prog="rag", description="zhiku knowledge bases")
    parser.add_argument("--kb-root", type=Path, default=None, help="default: KB_ROOT_PATH")
    # SUPPRESS: a subcommand's parser leaves kb_root alone unless it is given there, so it
    # does not overwrite the value given before the subcommand with its default
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--kb-root", type=Path, default=argparse.SUPPRESS, help="default: KB_ROOT_PATH"
    )
    commands = parser.add_subparsers(dest="group", required=True)
    _kb_commands(commands.add_parser("kb", help="manage knowledge bases", parents=[common]), common)
    evaluate = commands.add_parser(
        "eval", help="measure a KB with a questions .jsonl file", parents=[common]
    )
    evaluate.add_argument("--kb", required=True)
    evaluate.add_argument("--questions", required=True, type=Path)
    evaluate.add_argument("--answers", type=int, default=0, help="also answer the first N")
    evaluate.add_argument("--out", type=Path, default=Path("eval_report.json"))
    return parser


def _kb_commands(group: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    kb = group.add_subparsers(dest="command", required=True)

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return kb.add_parser(name, help=summary, parents=[common])

    command("list", "list knowledge bases")
    create = command("create", "create a knowledge base")
    create.add_argument("name")
    create.add_argument("--description", default="")
    command("delete", "delete a knowledge base").add_argument("name")
    add = command("add", "add files or folders (recursive)")
    add.add_argument("name")
    add.add_argument("paths", nargs="+", type=Path)
    add_url = command("add-url", "add (or update) web pages by URL")
    add_url.add_argument("name")
    add_url.add_argument("urls", nargs="+", metavar="URL")
    remove = command("remove", "remove documents")
    remove.add_argument("name")
    remove.add_argument("files", nargs="+")
    command("rebuild", "re-embed a KB from its originals").add_argument("name")
    migrate = command("migrate", "move a KB's vectors to another vector store (no re-embedding)")
    migrate.add_argument("name")
    migrate.add_argument("--to", required=True, choices=("faiss", "milvus"))
    command("files", "list a KB's documents").add_argument("name")
    check = command("check", "check (and repair) a KB's consistency")
    check.add_argument("name")
    check.add_argument("--no-repair", action="store_true", help="only report")
    search = command("search", "search a KB")
    search.add_argument("name")
    search.add_argument("query")
    search.add_argument("--top-k", type=int, default=5)
    search.add_argument("--json", action="store_true")


def main(argv: Sequence[str] | None = None) -> int:
    args = cli_parser().parse_args(argv)
    try:
        return _run_eval(args) if args.group == "eval" else _run_kb(args)
    except ZhikuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue", file=sys.stderr)
        return 130


def _run_kb(args: argparse.Namespace) -> int:
    from rag.factory import build_kb_service, offline_environment
    from rag.settings import load_settings

    offline_environment()
    settings = load_settings()
    service = build_kb_service(settings, args.kb_root)
    if args.command == "list":
        for s in service.list_kbs():
            print(f"{s.name}\t{s.docs} docs\t{s.chunks} chunks\t{s.description}")
    elif args.command == "create":
        service.create_kb(args.name, args.description)
        print(f"created {args.name}")
    elif args.command == "delete":
        service.delete_kb(args.name)
        print(f"deleted {args.name}")
    elif args.command == "add":
        return _add(service, args.name, args.paths)
    elif args.command == "add-url":
        return _add_urls(settings, service, args.name, args.urls)
    elif args.command == "remove":
        for name in args.files:
            service.delete_doc(args.name, name)
            print(f"removed {name}")
    elif args.command == "rebuild":
        results = service.rebuild_kb(args.name)
        return _summarize(results)
    elif args.command == "migrate":
        moved = service.migrate_kb(args.name, args.to)
        print(f"{args.name}: {'moved to' if moved else 'already in'} {args.to}")
    elif args.command == "check":
        report = service.check(args.name, repair=not args.no_repair)
        for line in report.repaired:
            print(f"repaired  {line}")
        for line in report.unresolved:
            print(f"problem   {line}")
        print(f"{args.name}: {'consistent' if report.ok else 'NOT consistent'}")
        return 0 if report.ok else 1
    elif args.command == "files":
        for doc in service.list_docs(args.name):
            print(f"{doc['name']}\t{doc['chunks']} chunks\t{doc['bytes']} bytes")
    elif args.command == "search":
        hits = service.search(args.name, args.query, args.top_k)
        if args.json:
            rows = [
                {"source": h.source, "page": h.page, "score": h.score, "text": h.text, "url": h.url}
                for h in hits
            ]
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        for rank, hit in enumerate(hits if not args.json else [], 1):
            page = f" p.{hit.page}" if hit.page else ""
            print(f"{rank}. [{hit.score:.3f}] {hit.source}{page}: {hit.text[:120]!r}")
    return 0


def _add(service: object, name: str, paths: list[Path]) -> int:
    from tqdm import tqdm

    from rag.services import KnowledgeBaseService

    assert isinstance(service, KnowledgeBaseService)
    files = sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file())
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"error: no such file or folder: {missing[0]}")
    if not service.exists(name):
        service.create_kb(name)
    with tqdm(total=len(files), unit="file") as bar:
        results = service.add_files(
            name,
            [(f.name, f) for f in files],
            on_progress=lambda r: bar.update(1),
            on_event=partial(_status_line, bar.write),
        )
    return _summarize(results)


def _status_line(write: Callable[[str], None], event: IngestEvent) -> None:
    """A line for each status line of a file being read: "scan.pdf: OCR page 3/10"."""
    if event.note:
        write(f"{event.name}: {event.note}")


def _add_urls(settings: Settings, service: object, name: str, urls: list[str]) -> int:
    """Fetch and add web pages; a line per URL, then the counts (exit 1 if any failed)."""
    from rag.factory import build_web_pages
    from rag.services import KnowledgeBaseService

    assert isinstance(service, KnowledgeBaseService)
    if not service.exists(name):
        service.create_kb(name)
    results = build_web_pages(settings, service).add_urls(name, urls)
    for r in results:
        detail = f" -> {r.name}: {r.chunks} chunks" if r.status != "error" else f": {r.error}"
        print(f"{r.status:9} {r.url}{detail}")
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "unchanged", "error")}
    print(f"{counts['ok']} added, {counts['unchanged']} unchanged, {counts['error']} failed")
    return 1 if counts["error"] else 0


def _summarize(results: list) -> int:
    for r in results:
        detail = f"{r.chunks} chunks" if r.status != "error" else r.error
        print(f"{r.status:9} {r.name}: {detail}")
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "unchanged", "error")}
    print(f"{counts['ok']} added, {counts['unchanged']} unchanged, {counts['error']} failed")
    return 1 if counts["error"] else 0


def _run_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rag.evaluation import evaluate, load_questions
    from rag.factory import build_kb_service, build_services, offline_environment
    from rag.services import kb_search_fn
    from rag.settings import load_settings

    offline_environment()
    settings = load_settings()
    questions = load_questions(args.questions)
    with tqdm(total=len(questions), unit="q") as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        if args.answers > 0:
            services = build_services(settings, args.kb_root)
            report = services.evaluate(args.kb, questions, args.answers, progress)
        else:
            service = build_kb_service(settings, args.kb_root)
            search = kb_search_fn(service, args.kb, settings.retrieval.score_threshold)
            report = evaluate(args.kb, questions, search, on_progress=progress)
    print(report.markdown())
    args.out.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), "utf-8")
    print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":  # python -m rag.cli, like python -m rag
    raise SystemExit(main())
