"""Every text the UI shows, in Chinese and in English: one table, key -> {"zh", "en"}.

A label is looked up by its key (`text`); an unknown key is an error naming the key, so a
typo fails a test instead of showing a blank. Texts with `{name}` fields are filled with
`str.format`. Language names in the language switch ("中文", "English") are written in their
own language on purpose, as every app does.

What the model or a document writes is never in here: it is shown as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = get_args(Lang)
DEFAULT_LANG: Lang = "zh"
"""The language of a request that names none (an API client, a browser sending no
Accept-Language)."""

_TABLE: dict[str, tuple[str, str]] = {
    # ---- the page ----------------------------------------------------------------------
    "app.header": (
        "# 知库\n本地知识库问答，完全离线运行",
        "# zhiku\nLocal knowledge-base Q&A, fully offline",
    ),
    "app.language": ("界面语言", "Language"),
    "tab.chat": ("对话", "Chat"),
    "tab.kb": ("知识库", "Knowledge bases"),
    "tab.quality": ("质量", "Quality"),
    # ---- chat --------------------------------------------------------------------------
    "chat.kb": ("知识库", "Knowledge base"),
    "chat.plain": ("不用知识库（模型直接回答）", "No knowledge base (model only)"),
    "chat.plain_notice": (
        "⚠️ 未选择知识库：回答只来自模型自己的记忆，没有出处，可能不准确。",
        "⚠️ No knowledge base chosen: the answer comes from the model's memory alone, "
        "without sources, and may be wrong.",
    ),
    "chat.plain_answer": ("未使用知识库", "no knowledge base used"),
    "chat.refresh": ("刷新", "Refresh"),
    "chat.chatbot": ("对话", "Chat"),
    "chat.placeholder": ("输入问题…", "Ask a question…"),
    "chat.send": ("发送", "Send"),
    "chat.stop": ("停止", "Stop"),
    "chat.stopped": ("■ 已停止", "■ stopped"),
    "chat.copy": ("复制", "Copy"),
    "chat.copied": ("已复制", "Copied"),
    "chat.clear": ("清空", "Clear"),
    # ---- the model line under the chat -------------------------------------------------
    "model.line": ("模型", "Models"),
    "model.llm": ("大模型", "LLM"),
    "model.embedding": ("向量模型", "embedding"),
    "model.last_answer": ("上次回答", "last answer"),
    "model.first_token": ("首字", "first token"),
    "model.speed": ("生成速度", "speed"),
    # ---- the sources under an answer ---------------------------------------------------
    "sources.title": ("来源", "Sources"),
    "sources.score_note": (
        "相关度 0–1，越高越相关；点击来源查看原文",
        "relevance 0–1, higher = more relevant; click a source to open it",
    ),
    "sources.searched_as": ("检索问题：", "Searched as:"),
    "sources.page": ("第 {page} 页", "page {page}"),
    "sources.score": ("相关度 {score}", "score {score}"),
    "sources.relevance": ("相关度", "relevance"),
    # ---- the source viewer beside the chat ---------------------------------------------
    "viewer.empty": (
        "点击回答中的引用 [1] 或下方的来源卡片，在这里查看原文并标出引用的段落。",
        "Click a citation [1] in an answer, or a source card below it, to see the "
        "document here with the cited passage marked.",
    ),
    "viewer.page_of": ("第 {page} / {total} 页", "page {page} of {total}"),
    "viewer.download": ("下载原文", "Download original"),
    "viewer.passage": ("引用段落", "Cited passage"),
    "viewer.passage_not_found": (
        "在文档中没有找到这段文字（文档可能已更新），下面是引用的原文。",
        "The passage was not found in the document (it may have been updated); its text is below.",
    ),
    "viewer.gone": ("无法打开这个来源", "This source cannot be opened"),
    # ---- the conversations side panel --------------------------------------------------
    "conv.panel": ("对话记录", "Conversations"),
    "conv.new": ("新对话", "New conversation"),
    "conv.list": ("对话", "Conversations"),
    "conv.empty": ("还没有保存的对话", "No conversations yet"),
    "conv.title": ("标题", "Title"),
    "conv.rename": ("重命名", "Rename"),
    "conv.delete": ("删除", "Delete"),
    "conv.confirm": ("删除这个对话？", "Delete this conversation?"),
    "conv.yes": ("确定删除", "Delete it"),
    "conv.no": ("取消", "Cancel"),
    "conv.export": ("导出 Markdown", "Export Markdown"),
    "conv.none": ("请先选择一个对话", "Choose a conversation first"),
    # ---- knowledge bases: create, pick, delete -----------------------------------------
    "kb.select": ("选择知识库", "Knowledge base"),
    "kb.new_name": ("新知识库名称", "New knowledge base name"),
    "kb.description": ("描述", "Description"),
    "kb.create": ("新建", "Create"),
    "kb.all": ("所有知识库", "All knowledge bases"),
    "kb.col.name": ("知识库", "Knowledge base"),
    "kb.col.docs": ("文档", "Documents"),
    "kb.col.chunks": ("分块", "Chunks"),
    "kb.col.description": ("描述", "Description"),
    "kb.created": ("✅ 已创建：**{name}**", "✅ Created **{name}**"),
    "kb.choose": ("⚠️ 请先选择或新建知识库", "⚠️ Choose or create a knowledge base first"),
    "kb.delete_confirm": ("确认删除整个知识库", "I really want to delete this knowledge base"),
    "kb.delete": ("删除知识库", "Delete knowledge base"),
    "kb.delete_tick": ("⚠️ 请先勾选确认", "⚠️ Tick the confirmation first"),
    "kb.deleted": ("🗑️ 已删除知识库：{name}", "🗑️ Deleted knowledge base {name}"),
    # ---- the dashboard -----------------------------------------------------------------
    "dash.docs": ("文档", "Documents"),
    "dash.chunks": ("分块", "Chunks"),
    "dash.size": ("磁盘占用", "Size on disk"),
    "dash.model": ("嵌入模型", "Embedding model"),
    "dash.updated": ("最近更新", "Last update"),
    "dash.never": ("尚无文档", "no documents yet"),
    "dash.by_type": ("各文件类型的分块数", "Chunks per file type"),
    "dash.none": ("选择一个知识库查看概况", "Choose a knowledge base to see its overview"),
    # ---- uploads and progress ----------------------------------------------------------
    "upload.files": (
        "上传文件（txt、md、pdf、docx、png、jpg …）",
        "Upload files (txt, md, pdf, docx, png, jpg …)",
    ),
    "upload.button": ("上传并建立索引", "Upload & index"),
    "upload.results": ("上传结果", "Upload results"),
    "upload.col.file": ("文件", "File"),
    "upload.col.status": ("状态", "Status"),
    "upload.col.chunks": ("分块", "Chunks"),
    "upload.col.error": ("错误", "Error"),
    "upload.choose_files": ("⚠️ 请选择要上传的文件", "⚠️ Choose files to upload"),
    "upload.done": ("{ok}/{total} 个文件已索引", "{ok}/{total} files indexed"),
    "upload.same_name": (
        "上传同名文件即更新该文档（旧内容会被删除）。",
        "Uploading a file with the same name updates it (its old content is removed).",
    ),
    "url.label": ("添加网页（网址）", "Add web pages (URL)"),
    "url.placeholder": ("https://… 每行一个", "https://… one per line"),
    "url.button": ("抓取并建立索引", "Fetch & index"),
    "url.enter": ("⚠️ 请输入网页的网址", "⚠️ Enter the address of a web page"),
    "url.done": ("{ok}/{total} 个网页已索引", "{ok}/{total} pages indexed"),
    "status.ok": ("已索引", "indexed"),
    "status.unchanged": ("未改变", "unchanged"),
    "status.error": ("失败", "failed"),
    "stage.queued": ("排队中", "queued"),
    "stage.parsing": ("解析中", "parsing"),
    "stage.ocr": ("OCR 识别第 {done}/{total} 页", "OCR page {done}/{total}"),
    "stage.embedding": ("向量化 {done}/{total}", "embedding {done}/{total}"),
    "stage.indexing": ("写入索引", "indexing"),
    "stage.done": ("完成 · 分块 {chunks}", "done · chunks: {chunks}"),
    "stage.unchanged": ("未改变，已跳过", "unchanged, skipped"),
    "stage.error": ("失败", "failed"),
    "job.upload": ("上传到 {kb}", "Upload into {kb}"),
    "job.rebuild": ("重建 {kb}", "Rebuild of {kb}"),
    "job.summary": (
        "{done}/{total} 个文件 · 已向量化 {embedded}/{chunks} 个分块 · 已用 {elapsed}",
        "{done}/{total} files · {embedded}/{chunks} chunks embedded · {elapsed} elapsed",
    ),
    "job.eta": ("预计还需 {eta}", "about {eta} left"),
    "job.eta_unknown": ("正在估算剩余时间…", "estimating time left…"),
    "job.running": ("进行中", "running"),
    "job.finished": ("已完成，用时 {elapsed}", "finished in {elapsed}"),
    "job.failed": ("失败", "failed"),
    "job.background": (
        "关闭页面也会继续进行；回到此页可查看进度。",
        "It keeps going if you close the page; come back here to see how far it got.",
    ),
    "job.started": ("{what}：进行中…", "{what}: running…"),
    "job.busy": (
        "⚠️ {kb} 已有上传或重建在进行，请等它完成",
        "⚠️ An upload or rebuild of {kb} is already running; wait for it to finish",
    ),
    "time.s": ("{n} 秒", "{n} s"),
    "time.min": ("{m} 分 {s} 秒", "{m} min {s} s"),
    # ---- documents ---------------------------------------------------------------------
    "docs.label": (
        "文档（点击一行预览其分块；点击表头排序）",
        "Documents (click a row to preview its chunks; click a header to sort)",
    ),
    "docs.col.file": ("文件", "File"),
    "docs.col.type": ("类型", "Type"),
    "docs.col.chunks": ("分块", "Chunks"),
    "docs.col.size": ("大小（KB）", "Size (KB)"),
    "docs.col.updated": ("更新时间", "Updated"),
    "docs.remove_pick": ("删除文档", "Remove document"),
    "docs.remove": ("删除", "Remove"),
    "docs.choose": ("⚠️ 请选择文档", "⚠️ Choose a document"),
    "docs.removed": ("🗑️ 已删除：{name}", "🗑️ Removed {name}"),
    "preview.empty": (
        "点击上方表格中的文件，在这里预览它的分块。",
        "Click a file in the table above to preview its chunks here.",
    ),
    "preview.title": ("{name} 的分块（{count} 个）", "Chunks of {name} ({count})"),
    "preview.chunk": ("第 {n} 块", "Chunk {n}"),
    "preview.more": ("……另有 {count} 个分块未显示", "… and {count} more chunks not shown"),
    # ---- rebuild -----------------------------------------------------------------------
    "rebuild.button": ("重建索引", "Rebuild index"),
    "rebuild.question": (
        "用当前的嵌入模型重新处理 **{kb}** 的全部原始文件？重建期间知识库仍可用旧索引检索，"
        "新索引完成后才替换。",
        "Re-embed every original of **{kb}** with the current embedding model? The knowledge "
        "base stays searchable on its old index until the new one is ready.",
    ),
    "rebuild.confirm": ("确认重建", "Yes, rebuild"),
    "rebuild.cancel": ("取消", "Cancel"),
    "rebuild.done": ("重建完成：{ok}/{total}", "Rebuilt: {ok}/{total}"),
    # ---- quality -----------------------------------------------------------------------
    "quality.intro": (
        "用自己的问题衡量知识库：上传 `.jsonl` 文件，每行一个 "
        '`{"question": …, "answers": [...], "doc_file": …}`。评测的是“知识库”页中选中的知识库；'
        "每次评测的结果都会保存，下图显示命中率随时间的变化。",
        "Measure a knowledge base with your own questions: a `.jsonl` file, one "
        '`{"question": …, "answers": [...], "doc_file": …}` per line. It measures the '
        "knowledge base chosen in the Knowledge bases tab; every run is kept, and the plot "
        "below shows its hit rates over time.",
    ),
    "quality.questions": ("问题文件（.jsonl）", "Questions (.jsonl)"),
    "quality.answers": ("同时回答前 N 题", "Also answer the first N"),
    "quality.run": ("评测", "Evaluate"),
    "quality.choose": (
        "⚠️ 请选择知识库和问题文件",
        "⚠️ Choose a knowledge base and a questions file",
    ),
    "quality.searching": ("检索中", "searching"),
    "quality.plot": ("历次评测的命中率", "Hit rate of each run"),
    "quality.x": ("评测时间", "Run time"),
    "quality.y": ("命中率", "Hit rate"),
    "quality.series": ("系列", "Series"),
    "metric.questions": ("问题数", "questions"),
    "metric.search_p50_ms": ("检索耗时 p50（毫秒）", "search p50 (ms)"),
    "metric.search_p95_ms": ("检索耗时 p95（毫秒）", "search p95 (ms)"),
    "metric.chars_top5": ("前 5 块字数", "characters in the top 5"),
    "metric.answered": ("已回答", "answered"),
    "metric.answer_em": ("答案完全一致", "answer exact match"),
    "metric.answer_f1": ("答案 F1", "answer F1"),
    "metric.answer_contains": ("答案含标准答案", "answer contains gold"),
    "metric.answer_p50_s": ("回答耗时 p50（秒）", "answer p50 (s)"),
    "quality.no_runs": (
        "该知识库还没有评测记录。",
        "No runs of this knowledge base yet.",
    ),
    "quality.runs": ("{count} 次评测，最近一次：{when}", "{count} runs, the last on {when}"),
    # ---- errors: a summary per kind, in the user's language (the detail follows) -------
    "error.detail": ("详情：", "Details: "),
    "error.ZhikuError": ("出错了", "Something went wrong"),
    "error.BadRequestError": ("请求无法处理", "The request cannot be served as sent"),
    "error.ConfigError": ("配置有误", "A setting is wrong"),
    "error.ModelUnavailableError": ("模型无法加载", "A model cannot be loaded"),
    "error.ModelNotFoundError": ("没有这个模型", "No such model"),
    "error.KnowledgeBaseNotFoundError": ("知识库不存在", "No such knowledge base"),
    "error.KnowledgeBaseExistsError": ("同名知识库已存在", "That knowledge base exists already"),
    "error.KnowledgeBaseBusyError": (
        "知识库正在重建，请稍后再试",
        "The knowledge base is being rebuilt; try again later",
    ),
    "error.RebuildFailedError": (
        "重建未完成，知识库保持原样",
        "The rebuild stopped; the knowledge base is unchanged",
    ),
    "error.DocumentNotFoundError": ("文档不存在", "No such document"),
    "error.InvalidNameError": ("名称不可用", "That name cannot be used"),
    "error.UnsupportedFileTypeError": ("不支持的文件类型", "Unsupported file type"),
    "error.FileTooLargeError": ("文件太大", "The file is too large"),
    "error.DocumentLoadError": ("文件无法读取", "The file cannot be read"),
    "error.UrlRefusedError": ("不能抓取这个网址", "That address may not be fetched"),
    "error.PageFetchError": ("网页无法抓取", "The web page cannot be fetched"),
    "error.ConversationNotFoundError": ("对话不存在", "No such conversation"),
    "error.ConversationLimitError": (
        "对话数量或轮数已达上限",
        "The most conversations or turns allowed are kept already",
    ),
    "error.EmbeddingMismatchError": (
        "知识库是用另一个嵌入模型建立的",
        "The knowledge base was built with another embedding model",
    ),
    "error.BusyError": ("模型正忙，请稍后再试", "The model is busy; try again shortly"),
    "error.AuthenticationError": ("需要登录凭据", "Credentials are needed"),
    "error.InputTooLongError": ("输入太长", "The input is too long"),
    "error.ContextWindowExceededError": (
        "问题和资料超出了模型的上下文长度",
        "The question and its context do not fit the model's context window",
    ),
}

MESSAGES: Mapping[str, Mapping[Lang, str]] = MappingProxyType(
    {key: MappingProxyType(dict(zip(LANGS, texts, strict=True))) for key, texts in _TABLE.items()}
)
"""key -> {"zh": ..., "en": ...}: every text the UI shows."""


def text(key: str, lang: Lang, **fields: object) -> str:
    """The text of `key` in `lang`, its `{fields}` filled; KeyError for an unknown key."""
    try:
        template = MESSAGES[key][lang]
    except KeyError:
        raise KeyError(
            f"no UI text {key!r} in language {lang!r}: add it to rag/ui/messages.py "
            f"(languages: {', '.join(LANGS)})"
        ) from None
    return template.format(**fields) if fields else template


def texts(key: str) -> set[str]:
    """`key`'s text in every language (a test asks whether a label is one of them)."""
    return set(MESSAGES[key].values())


def as_lang(value: object) -> Lang:
    """`value` when it names a UI language, else the default."""
    return value if value in LANGS else DEFAULT_LANG  # type: ignore[return-value]


def browser_lang(accept_language: str | None) -> Lang:
    """The UI language for a browser's Accept-Language header: the first of its languages
    that is Chinese or English, by the order of preference it gives (q values); English
    when it names neither, the default when there is none."""
    if not accept_language:
        return DEFAULT_LANG
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if primary in LANGS:
            return primary  # type: ignore[return-value]
    return "en"


__all__ = ["DEFAULT_LANG", "LANGS", "MESSAGES", "Lang", "as_lang", "browser_lang", "text", "texts"]
