"""The one app factory: settings -> models -> services -> FastAPI app with the UI mounted."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from fastapi import FastAPI
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLLM

from rag.chains import QAChain
from rag.chains.confirm import AnswerConfirmation
from rag.chains.follow_up import FollowUps
from rag.chains.not_found import Refusals
from rag.chains.processors import ProcessorTools, build_processors
from rag.chains.quoting import SentenceQuoter
from rag.chains.retry import RetryOptions, build_retry_policies, script_fold
from rag.chains.script import ScriptConverter
from rag.chains.translate import QuestionTranslator
from rag.concurrency import RequestGate
from rag.conversations import ConversationStore, StoreLimits
from rag.documents import PdfPageRenderer
from rag.embeddings import build_embeddings
from rag.ingestion import (
    Chunker,
    ChunkingOptions,
    FileIngestor,
    IngestionPipeline,
    IngestOptions,
    IngestTimings,
)
from rag.kb.registry import KnowledgeBaseRegistry
from rag.kb.store import EmbeddingIdentity
from rag.lexical.tokenize import Tokenizer
from rag.llms.base import ZhikuLLM
from rag.llms.setup import LLMSetup
from rag.ocr import OcrOptions, OcrPool
from rag.retrieval import FusionConfig, Reranker, SearchOptions, build_reranker
from rag.services import (
    DocumentLinks,
    KnowledgeBaseService,
    Services,
    WebPageService,
    answerability_check,
)
from rag.settings import ChunkingSettings, OcrSettings, RetrievalSettings, Settings
from rag.splitters import build_splitter
from rag.tokens import TokenCounter, estimate_tokens
from rag.vectorstores import MilvusConnection, SizedIndex, VectorStores
from rag.vectorstores.milvus_index import is_remote
from rag.webfetch import FetchOptions, PageFetcher

logger = logging.getLogger(__name__)

# Characters of context per token the model can spare: CJK text is about one token a character.
_CHARS_PER_SPARE_TOKEN = 0.9
_PROMPT_OVERHEAD_TOKENS = 300
_MULTIPART_SLACK = 1024 * 1024


def offline_environment() -> None:
    """No hub is reachable: fail fast instead of retrying for a minute, and send nothing."""
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "DO_NOT_TRACK": "1",
        "UNSTRUCTURED_DISABLE_NOTICE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(key, value)
    # transformers' "Loading weights" bar would land in CLI output and error messages
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def build_chunker(settings: Settings | ChunkingSettings) -> Chunker:
    """Documents -> chunks, as CHUNK_SIZE, OVERLAP_SIZE and CHUNK_TITLE_PREFIX say (the
    chunking section, or the settings holding it)."""
    chunking = settings.chunking if isinstance(settings, Settings) else settings
    splitter = build_splitter(
        chunking.splitter, chunking.size, chunking.overlap, chunking.narrow_char_weight
    )
    return Chunker(splitter, ChunkingOptions(title_prefix=chunking.title_prefix))


def search_options(settings: Settings) -> SearchOptions:
    retrieval, embedding = settings.retrieval, settings.models.embedding
    return SearchOptions(
        mode=retrieval.mode,
        fusion=FusionConfig(
            method=retrieval.fusion_method,
            dense_weight=retrieval.fusion_dense_weight,
            dense_weight_latin=embedding.dense_weight_latin,
            dense_floor=embedding.score_floor,
            dense_ceiling=embedding.score_ceiling,
        ),
        candidates=retrieval.candidates,
        rerank_top_n=retrieval.reranker.top_n,
        max_query_chars=settings.server.max_query_chars,
    )


def build_ocr(ocr: OcrSettings, pdfium_lock: threading.Lock | None = None) -> OcrPool | None:
    """The OCR worker pool (OCR_WORKERS processes, started on the first scan), or None when
    OCR_ENABLED is off. `pdfium_lock`: held around every PDFium call in this process (PDFium
    is not thread-safe; the source viewer renders pages with it too)."""
    if not ocr.enabled:
        return None
    options = OcrOptions(
        workers=ocr.workers,
        pdf_threshold=ocr.pdf_threshold,
        max_pages=ocr.max_pages,
        max_pixels=ocr.max_pixels,
    )
    return OcrPool(options, pdfium_lock)


def build_vector_stores(retrieval: RetrievalSettings, kb_root: Path) -> VectorStores:
    """FAISS (VECTOR_INDEX) and Milvus (KBS_CONFIG["milvus"]: a relative Lite file under
    `kb_root`, and its "lexical" leg), new knowledge bases in DEFAULT_VS_TYPE. The Milvus
    client is made on first use: a root of FAISS knowledge bases never opens (or locks) the
    Milvus Lite file."""
    milvus = retrieval.kbs_config.milvus
    uri = milvus.uri
    if not is_remote(uri):
        path = Path(uri).expanduser()
        uri = str(path if path.is_absolute() else kb_root / path)
    connection = MilvusConnection(uri, milvus.token.get_secret_value(), milvus.db_name)
    return VectorStores(
        SizedIndex(retrieval.vector_index), retrieval.default_vs_type, connection, milvus.lexical
    )


def build_kb_service(
    settings: Settings,
    kb_root: Path | None = None,
    embeddings: Embeddings | None = None,
    reranker: Reranker | None = None,
    ingest: IngestOptions | None = None,
    timings: IngestTimings | None = None,
    pdfium_lock: threading.Lock | None = None,
) -> KnowledgeBaseService:
    """Pass `embeddings` / `reranker` to use other (e.g. fake) models; the reranker is
    otherwise the configured one (None when USE_RERANKER is off). `ingest`: how files are
    batched; `timings`: where the ingest's seconds per stage are added up; `pdfium_lock`:
    the lock the OCR holds around PDFium (`build_ocr`)."""
    models = settings.models
    embeddings = embeddings or build_embeddings(
        models.embedding, models.embedding_device, models.embedding_model
    )
    if reranker is None:
        reranker = build_reranker(settings.retrieval.reranker, models.embedding_device)
    dimension = len(embeddings.embed_query("dimension probe"))
    root = kb_root or settings.server.kb_root_path
    registry = KnowledgeBaseRegistry(
        root=root,
        embedding=EmbeddingIdentity(
            models.embedding_vectors_name, dimension, models.embedding_equivalents
        ),
        make_index=build_vector_stores(settings.retrieval, root),
        tokenizer=Tokenizer(stemming=settings.retrieval.bm25_english_stemming),
        bm25_k1=settings.retrieval.bm25_k1,
    )
    pipeline = IngestionPipeline(
        build_chunker(settings.chunking),
        embeddings,
        dimension,
        timings,
        pdf_tables=settings.loading.pdf_tables,
        ocr=build_ocr(settings.ocr, pdfium_lock),
    )
    return KnowledgeBaseService(
        registry=registry,
        ingestor=FileIngestor(pipeline, ingest),
        embeddings=embeddings,
        search_options=search_options(settings),
        reranker=reranker,
    )


def context_budget(settings: Settings) -> int:
    """CONTEXT_CHAR_BUDGET (or the LLM entry's own), capped so that prompt + answer fit the
    model's context window."""
    entry = settings.models.llm
    spare = entry.context_window - entry.max_new_tokens - _PROMPT_OVERHEAD_TOKENS
    return max(200, min(settings.answer_char_budget, int(spare * _CHARS_PER_SPARE_TOKEN)))


def llm_setup(settings: Settings) -> LLMSetup:
    """What the LLM backend of LLM_MODEL is built from: its entry, LLM_DEVICE, SYSTEM_PROMPT
    and the cache folder."""
    models = settings.models
    return LLMSetup(
        name=models.llm_model,
        entry=models.llm,
        device=models.llm_device,
        system_prompt=settings.system_prompts["en"] or None,
        cache_dir=models.cache_dir,
    )


def token_counter(llm: BaseLLM) -> TokenCounter:
    """Our LLMs count with their own tokenizer; another LLM (a test's fake) is estimated
    (LangChain's default `get_num_tokens` would fetch GPT-2's tokenizer from the hub)."""
    return llm.get_num_tokens if isinstance(llm, ZhikuLLM) else estimate_tokens


def build_qa_chain(settings: Settings, llm: BaseLLM) -> QAChain:
    """The QA chain over `llm`, with the LLM entry's answer processors and retry policies
    (ConfigError for a name that is not one: the message lists the valid names)."""
    converter = ScriptConverter()
    answer = settings.answer
    refusals = Refusals(answer.not_found_prefixes)
    processors = build_processors(settings.answer_processors, ProcessorTools(converter, refusals))
    retry = RetryOptions(
        answer.retry_prompt_templates or {},  # no template: no policies either
        answer.retry_min_score,
        refusals,
        script_fold(converter),
    )
    policies = build_retry_policies(settings.retry_policies, retry)
    return QAChain(
        llm=llm,
        prompt_template=answer.prompt_templates,
        context_char_budget=context_budget(settings),
        history_len=answer.history_len,
        merge_neighbours=answer.merge_neighbours,
        context_token_budget=settings.models.llm.context_token_budget,
        count_tokens=token_counter(llm),
        converter=converter,
        processors=processors,
        retry_policies=policies,
        system_prompts=settings.system_prompts if isinstance(llm, ZhikuLLM) else None,
        quoter=SentenceQuoter(refusals) if answer.quote_source_sentence else None,
        translator=QuestionTranslator(llm) if answer.translate_questions else None,
        confirmation=answer_confirmation(settings, llm),
        follow_ups=FollowUps(answer.condense_every_follow_up),
    )


def answer_confirmation(settings: Settings, llm: BaseLLM) -> AnswerConfirmation | None:
    """The model's yes-or-no judgement near the answerability threshold, when the LLM entry
    has `answerable_min_yes` (`rag.services.app.answerability_check` widens the threshold
    into a margin only then)."""
    min_yes = getattr(settings.models.llm, "answerable_min_yes", None)
    if min_yes is None or not isinstance(llm, ZhikuLLM):
        return None
    return AnswerConfirmation(llm, min_yes)


def build_services(
    settings: Settings,
    kb_root: Path | None = None,
    llm: BaseLLM | None = None,
    embeddings: Embeddings | None = None,
) -> Services:
    """Everything the app needs; pass `llm` / `embeddings` to use other (e.g. fake) models."""
    offline_environment()
    if llm is None:
        from rag.llms import build_llm

        llm = build_llm(llm_setup(settings)).load()  # load now: the first question should not wait
    qa = build_qa_chain(settings, llm)
    pdfium_lock = threading.Lock()  # one for the OCR's page checks and the viewer's pages
    kb_service = build_kb_service(settings, kb_root, embeddings, pdfium_lock=pdfium_lock)
    for report in kb_service.check_all(repair=True):  # after a crash, repair before serving
        for line in report.repaired:
            logger.warning("knowledge base %r: %s", report.kb, line)
        for line in report.unresolved:
            logger.error("knowledge base %r: %s", report.kb, line)
    # the threshold is calibrated for the entry's model, not for embeddings passed in
    answerability = answerability_check(settings) if embeddings is None else None
    gate = RequestGate(settings.server.llm_queue_size)
    web = build_web_pages(settings, kb_service)
    conversations = build_conversation_store(settings, kb_service.root)
    token = settings.server.api_token
    links = DocumentLinks.for_token(token.get_secret_value() if token else None, "api")
    pages = PdfPageRenderer(lock=pdfium_lock)
    return Services(
        settings, kb_service, llm, qa, gate, web, conversations, answerability, links, pages
    )


def build_web_pages(settings: Settings, kb_service: KnowledgeBaseService) -> WebPageService:
    """Adds web pages by URL, as ALLOW_PRIVATE_URLS, URL_TIMEOUT_S and URL_MAX_MB say; the
    pages wait in the KB root's upload staging folder (emptied at start-up) while indexed."""
    from rag.api.staging import UPLOAD_STAGING_DIR

    web = settings.web
    options = FetchOptions(
        timeout_s=web.url_timeout_s,
        max_bytes=web.url_max_bytes,
        allow_private=web.allow_private_urls,
    )
    return WebPageService(kb_service, PageFetcher(options), kb_service.root / UPLOAD_STAGING_DIR)


def build_conversation_store(settings: Settings, kb_root: Path) -> ConversationStore:
    """Conversations beside the knowledge bases, with the MAX_CONVERSATION* limits."""
    server = settings.server
    limits = StoreLimits(
        max_conversations=server.max_conversations,
        max_turns=server.max_conversation_turns,
        max_message_chars=server.max_message_chars,
    )
    return ConversationStore(kb_root, limits)


def create_app(services: Services, bind_host: str = "127.0.0.1") -> FastAPI:
    """The REST API under /api (docs at /docs) and the Gradio UI at /, served on `bind_host`
    (which host names and origins the app accepts follow from it)."""
    import gradio as gr

    from rag.api import (
        UPLOAD_STAGING_DIR,
        api_router,
        clear_upload_staging,
        install_docs,
        install_error_handlers,
        openai_api_router,
    )
    from rag.api.limits import BodySizeLimit
    from rag.api.origin import OriginGuard, allowed_host_names
    from rag.ui import UI_CSS, UI_JS, build_ui
    from rag.ui.uploads import GradioFileGuard

    server = services.settings.server
    app = FastAPI(
        title="zhiku 知库",
        description="Local knowledge-base question answering.",
        docs_url=None,  # served by install_docs, behind the API token when one is set
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    clear_upload_staging(services.kb.root)
    upload_dir = gradio_upload_dir(services.kb.root / UPLOAD_STAGING_DIR)
    app.include_router(api_router(services))
    app.include_router(openai_api_router(services))
    install_docs(app, services)
    # multipart framing adds a little to the files themselves
    app.add_middleware(BodySizeLimit, max_bytes=server.max_upload_bytes + _MULTIPART_SLACK)
    app.add_middleware(GradioFileGuard, upload_dir=upload_dir)
    app.add_middleware(
        OriginGuard,
        allowed_hosts=allowed_host_names(bind_host, server.allowed_hosts),
        allowed_origins=server.allowed_origins,
    )
    login = None
    if server.ui_username and server.ui_password:
        login = (server.ui_username, server.ui_password.get_secret_value())
    ui = build_ui(services, upload_dir)
    app = gr.mount_gradio_app(
        app,
        ui,
        path="/",
        auth=login,
        max_file_size=server.max_upload_bytes,
        css=UI_CSS,
        js=UI_JS,
    )
    # Gradio checks that a file value names an upload only once it believes it "launched",
    # which a mounted app never does; GradioFileGuard checks before it, this is a second lock
    ui.has_launched = True
    return app


def gradio_upload_dir(staging: Path) -> Path:
    """Gradio's upload cache, under the KB root's staging folder (emptied at start-up) rather
    than the system's temp folder, so users' files stay where the README says they are.
    Gradio reads the folder from GRADIO_TEMP_DIR."""
    upload_dir = (staging / "gradio").resolve()
    upload_dir.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(upload_dir)
    return upload_dir
