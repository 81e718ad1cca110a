"""A real browser (Debian chromium via Playwright): create a KB, upload a scanned Chinese PDF
(read by OCR, its pages counted in the progress view) through the file picker, ask about it,
see the streamed answer and a citation naming the PDF; click a citation and see the cited
page with the passage highlighted; stop an answer and see the model's server stop
generating; a conversation still there after a reload, renamed, exported, deleted; every
label in Chinese or in English, switched in place; an upload's progress, the dashboard, a
file's chunks and the rebuild's confirmation.

Each test picks the page's language through the browser's (its locale): the UI follows
Accept-Language.

With SCREENSHOTS_DIR set (e.g. to docs/), the screenshots for the README are saved there."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from rag.ui.messages import text

pytestmark = [pytest.mark.slow, pytest.mark.browser]

DONE = text("chat.copy", "zh")
"""Shown under an answer once it is finished (its copy tool); its sources show earlier."""
SOURCES = text("sources.title", "zh")
SCREENSHOTS = os.environ.get("SCREENSHOTS_DIR")
"""Where the screenshots of the docs are saved too (docs/), when set."""

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SETTLE_MS = 120_000
"""How long a page may take to load and finish its start-up events (the KB lists, labels in
the page's language). Playwright's default, 30 s, ran out once in a full suite run with the
cores busy (the stop test's page), never with the browser tests alone."""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "chromium missing: `make test` installs it (apt chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def fast_app(app_factory):
    """One app with the fast model, for the tests that need nothing else."""
    return app_factory()


def chinese_page(browser, **options):
    """A page of a browser whose language is Chinese: the UI is in Chinese."""
    options.setdefault("viewport", {"width": 1280, "height": 1000})
    return browser.new_page(locale="zh-CN", **options)


def chinese_context(browser, **options):
    """A browser context whose language is Chinese (for pages that need its permissions)."""
    return browser.new_context(locale="zh-CN", **options)


def test_upload_pdf_and_ask_in_the_browser(fast_app, browser, tmp_path):
    from playwright.sync_api import expect

    from tests.fixtures_docs import write_scan_pdf

    app = fast_app
    # image-only: its text is read by OCR; 8 pages, so that OCR outlasts the progress
    # view's 1-second refresh (two pages were read between two refreshes on a quiet machine)
    scan = write_scan_pdf(tmp_path, "合同扫描件.pdf", repeats=6)
    page = chinese_page(browser)
    page.goto(app.base_url + "/", wait_until="networkidle", timeout=SETTLE_MS)

    page.get_by_role("tab", name="知识库").click()
    page.locator("#new-kb textarea, #new-kb input").first.fill("合同资料")
    page.locator("#create-kb").click()
    page.get_by_text("已创建").wait_for(timeout=30_000)

    choose_file(page, scan)
    page.evaluate(RECORD_PROGRESS_JS)
    page.locator("#upload-btn").click()
    results = page.locator("#upload-results")
    expect_indexed(page, timeout_ms=240_000)
    expect(results).to_contain_text("合同扫描件.pdf")
    expect(results).to_contain_text("已索引")
    page.screenshot(path=str(tmp_path / "uploaded.png"), full_page=True)
    seen = page.evaluate("() => window.zhikuProgress")
    # its pages read by OCR, counted in the progress view as they are read
    assert any(re.search(r"OCR 识别第 \d/8 页", t) for t in seen), seen

    page.get_by_role("tab", name="对话").click()
    choose(page, "合同资料")
    page.locator("#question textarea").fill("乙方应在收到货物后多少日内付清全部货款？")
    page.locator("#send").click()

    chatbot = page.locator("#chatbot")
    snapshots = watch_until(chatbot, DONE, timeout_s=240)
    growing = [t for t in snapshots if DONE not in t]
    assert len({len(t) for t in growing}) >= 3, "the answer did not stream in"
    shown = chatbot.inner_text()
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
    assert "合同扫描件.pdf" in shown
    assert "相关度" in shown and "score" not in shown  # labelled in the page's language
    answer = shown.split(SOURCES)[0]
    assert "十五" in answer


def choose_file(page, path: Path, tries: int = 3) -> None:
    """Put `path` in the upload box and wait until Gradio lists it, setting it again if
    not. With the cores busy (a dev-gate run beside the suite), the name sometimes never
    appeared, in either browser test, never with the test run alone; the cause is not
    found yet (no request error in the app's log)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for attempt in range(tries):
        page.locator("#upload input[type=file]").set_input_files(str(path))
        try:
            page.locator("#upload").get_by_text(path.name).first.wait_for(timeout=30_000)
            return
        except PlaywrightTimeoutError:
            if attempt == tries - 1:
                raise


INDEXED = re.compile(r"1/[12] (个文件已索引|files indexed)")
"""The upload status for one chosen file: "1/2" only when `choose_file` had to set the file
twice and both choices reached Gradio (the second copy is the same file, stored once)."""


def expect_indexed(page, timeout_ms: int) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#kb-status")).to_contain_text(INDEXED, timeout=timeout_ms)


def watch_until(locator, marker: str, timeout_s: float) -> list[str]:
    """Distinct texts of `locator`, polled every 100 ms, until `marker` appears."""
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while time.monotonic() < deadline:
        text = locator.inner_text()
        if not seen or text != seen[-1]:
            seen.append(text)
        if marker in text:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"{marker!r} did not appear in {timeout_s}s; last text: {seen[-1:]}")


HOSTILE_ANSWER = [
    "答案见 [1]。",
    " ![探针](http://127.0.0.1:{port}/answer.png)",
    ' <img src="http://127.0.0.1:{port}/answer-tag.png">',
    " [点我](javascript:alert(1)) 或 [这里](http://127.0.0.1:{port}/link)",
    " http://127.0.0.1:{port}/bare",
]


@pytest.fixture(scope="module")
def remote(app_factory):
    """An app whose LLM is a fake OpenAI-compatible server; each test sets its `responder`."""
    from tests.unit.test_llm_openai import FakeServer

    model = FakeServer()
    threading.Thread(target=model.serve_forever, args=(0.05,), daemon=True).start()
    entry = {"backend": "openai", "api_base_url": model.base_url, "model": "served-model"}
    env = {"ZHIKU_LLM_MODEL_DICT": json.dumps({"remote": entry})}
    yield app_factory("remote", env), model
    model.shutdown()


def test_nothing_a_document_or_the_model_writes_is_fetched(remote, browser, tmp_path):
    """A document and a model answer full of images and links: the browser shows them as
    text, and the local image server they point at gets no request."""
    from playwright.sync_api import expect

    from tests.e2e.test_attacks import listener_server
    from tests.unit.test_llm_openai import sse_answer

    app, model = remote
    images = listener_server()
    port = images.server_address[1]
    model.responder = sse_answer([piece.format(port=port) for piece in HOSTILE_ANSWER])
    doc = tmp_path / "it's _x_.md"
    doc.write_text(
        f"# 探针\n\n发布日期是十二月十日。![图](http://127.0.0.1:{port}/doc.png)\n"
        f'<img src="http://127.0.0.1:{port}/doc-tag.png"> 价格 $5 和 $10。\n',
        encoding="utf-8",
    )
    page = chinese_page(browser)
    try:
        page.goto(app.base_url + "/", wait_until="networkidle", timeout=SETTLE_MS)
        page.get_by_role("tab", name="知识库").click()
        page.locator("#new-kb textarea, #new-kb input").first.fill("探针库")
        page.locator("#create-kb").click()
        page.get_by_text("已创建").wait_for(timeout=30_000)
        choose_file(page, doc)
        page.locator("#upload-btn").click()
        expect_indexed(page, timeout_ms=120_000)
        expect(page.locator("#upload-results")).to_contain_text("it's _x_.md")

        page.get_by_role("tab", name="对话").click()
        choose(page, "探针库")
        page.locator("#question textarea").fill("发布日期是哪天？")
        page.locator("#send").click()
        chatbot = page.locator("#chatbot")
        watch_until(chatbot, DONE, timeout_s=120)
        page.wait_for_timeout(1000)  # let any image the page shows be requested
        page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
        shown = chatbot.inner_text()
        hrefs = chatbot.locator("a").evaluate_all("links => links.map(a => a.href)")
        sources = chatbot.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")
    finally:
        page.close()
        images.shutdown()
    assert images.paths == []  # type: ignore[attr-defined]
    assert not [src for src in sources if str(port) in src]
    assert not [h for h in hrefs if str(port) in h or h.startswith("javascript")]
    assert f"![探针](http://127.0.0.1:{port}/answer.png)" in shown  # shown, as text
    assert "it's _x_.md" in shown and "$5 和 $10" in shown


# ---- the source viewer, stop, regenerate, copy, the KB remembered ---------------------------

CITED_ANSWER = ["所有数据都保存在", "用户自己的电脑上", " [1]。"]


def upload_over_http(app, kb: str, path: Path) -> None:
    import httpx

    httpx.post(f"{app.base_url}/api/kbs", json={"name": kb}, timeout=30)
    with open(path, "rb") as handle:
        reply = httpx.post(
            f"{app.base_url}/api/kbs/{kb}/docs", files={"files": (path.name, handle)}, timeout=120
        )
    assert reply.status_code == 200, reply.text


def choose(page, option: str) -> None:
    """Pick `option` in the chat's knowledge-base picker (a Chinese page)."""
    page.get_by_label("知识库", exact=True).first.click()
    page.get_by_role("option", name=option).click()


def ask(page, question: str, answers_before: int) -> None:
    """Ask, and wait until the answer is finished (its copy tool is there)."""
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    page.locator("#chatbot .zhiku-copy").nth(answers_before).wait_for(timeout=120_000)


def highlighted_share(png: bytes) -> float:
    """Share of a page image's pixels the highlight tinted (red well above blue: yellow
    over white or over black text; the page itself is black on white)."""
    from PIL import Image

    pixels = list(Image.open(io.BytesIO(png)).convert("RGB").getdata())
    return sum(1 for r, _, b in pixels if r - b > 60) / len(pixels)


def save_screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name))
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / name))


def test_a_citation_opens_its_page_with_the_passage_highlighted(remote, browser, tmp_path):
    """Upload a PDF, ask, click the answer's [1]: the viewer beside the chat shows the PDF
    page as an image whose highlight covers the passage, the passage marked under it.
    Also: copy copies the answer as text, and a reload keeps the KB this browser chose."""
    import httpx
    from playwright.sync_api import expect

    from tests.fixtures_docs import CJK_PDF_SENTENCE, write_cjk_pdf
    from tests.unit.test_llm_openai import sse_answer

    app, model = remote
    model.responder = sse_answer(CITED_ANSWER)
    httpx.post(f"{app.base_url}/api/kbs", json={"name": "0-空库"}, timeout=30)  # sorts first
    upload_over_http(app, "资料库", write_cjk_pdf(tmp_path, "知库 手册.pdf"))
    context = chinese_context(
        browser,
        viewport={"width": 1400, "height": 1000},
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    try:
        page.goto(app.base_url + "/", wait_until="networkidle", timeout=SETTLE_MS)
        choose(page, "资料库")
        ask(page, "数据保存在哪里？", answers_before=0)
        card = page.locator("#chatbot .zhiku-source").first
        cited = json.loads(card.locator(".zhiku-data").text_content() or "{}")
        assert cited["file"] == "知库 手册.pdf" and cited["page"] == 1
        assert CJK_PDF_SENTENCE[:20] in cited["passage"]
        expect(card.locator("meter")).to_have_count(1)  # the relevance bar
        expect(card.locator("mark.zhiku-term").first).to_be_visible()  # question words

        page.locator("#chatbot .zhiku-cite").first.click()
        viewer = page.locator("#zhiku-viewer")
        image = viewer.locator("img.zhiku-page-image")
        image.wait_for(timeout=30_000)
        page.wait_for_function(
            "() => { const i = document.querySelector('#zhiku-viewer img.zhiku-page-image');"
            " return i && i.complete && i.naturalWidth > 0; }",
            timeout=30_000,
        )
        passage = viewer.locator("mark.zhiku-passage-text")
        assert " ".join(passage.inner_text().split()) == " ".join(cited["passage"].split())
        expect(viewer.locator(".zhiku-viewer-head")).to_contain_text("知库 手册.pdf")
        shown = page.request.get(app.base_url + "/" + (image.get_attribute("src") or ""))
        assert shown.status == 200 and int(shown.headers["x-highlight-boxes"]) >= 2
        assert highlighted_share(shown.body()) > 0.005
        save_screenshot(page, tmp_path, "chat-source-viewer.png")

        page.locator("#chatbot .zhiku-copy").first.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        quote = f"\n\n> {CJK_PDF_SENTENCE} [1]"  # the sentence the answer rests on
        assert copied == "".join(CITED_ANSWER) + quote
        expect(page.locator("#chatbot blockquote").first).to_contain_text(CJK_PDF_SENTENCE[-12:])

        page.reload(wait_until="networkidle", timeout=SETTLE_MS)
        expect(page.get_by_label("知识库", exact=True).first).to_have_value("资料库")
    finally:
        context.close()


class SlowAnswer:
    """A model that streams `pieces` one character at a time, `delay` apart, and records how
    far each streamed answer got before the client went away (`cut`) or ended (`whole`)."""

    def __init__(self, pieces: int = 400, delay: float = 0.05) -> None:
        self.pieces, self.delay = pieces, delay
        self.cut: list[int] = []
        self.whole: list[int] = []

    def __call__(self, handler, body) -> None:
        from tests.unit.test_llm_openai import delta_event, sse_answer

        if not body.get("stream"):  # a follow-up's rewriting
            sse_answer(["问题"])(handler, body)
            return
        handler.start_stream()
        sent = 0
        try:
            for _ in range(self.pieces):
                time.sleep(self.delay)
                handler.write_chunk(f"data: {json.dumps(delta_event('字'))}\n\n")
                sent += 1
            handler.write_chunk(f"data: {json.dumps(delta_event(None, 'stop'))}\n\n")
            handler.write_chunk("data: [DONE]\n\n")
            handler.end_stream()
        except (BrokenPipeError, ConnectionResetError):
            self.cut.append(sent)
            raise
        self.whole.append(sent)


def test_stop_ends_the_generation_on_the_server(remote, browser, tmp_path):
    """Stop a streaming answer: the model's server sees the request go away long before
    the answer's end, the chat marks the answer stopped, and the model answers the next
    question; regenerate asks the last question again."""
    from playwright.sync_api import expect

    from tests.unit.test_llm_openai import sse_answer

    app, model = remote
    slow = SlowAnswer()
    model.responder = slow
    page = chinese_page(browser, viewport={"width": 1400, "height": 1000})
    try:
        page.goto(app.base_url + "/", wait_until="networkidle", timeout=SETTLE_MS)
        choose(page, text("chat.plain", "zh"))
        expect(page.locator("#zhiku-plain-notice")).to_contain_text("未选择知识库")
        page.locator("#question textarea").fill("写一首很长的诗")
        page.locator("#send").click()
        page.locator("#chatbot").get_by_text("字字字字字").wait_for(timeout=60_000)
        page.locator("#stop").click()
        deadline = time.monotonic() + 30
        while not slow.cut and time.monotonic() < deadline:
            time.sleep(0.1)
        assert slow.cut and slow.cut[0] < slow.pieces, (slow.cut, slow.whole)
        assert slow.whole == []
        expect(page.locator("#chatbot .zhiku-stopped")).to_have_count(1)

        model.responder = sse_answer(["好的，", "这是答案。"])
        ask(page, "换一个问题", answers_before=1)  # the model is free again
        expect(page.locator("#chatbot")).to_contain_text("好的，这是答案。")
        model.responder = sse_answer(["重新", "生成的答案。"])
        # Gradio's own retry button, named in the page's language by Gradio
        page.locator("#chatbot").get_by_role("button", name="重试").last.click()
        expect(page.locator("#chatbot")).to_contain_text("重新生成的答案。", timeout=60_000)
        expect(page.locator("#chatbot [data-testid=bot]")).to_have_count(2)
        expect(page.locator("#model-line")).to_contain_text("tokens/s")
        save_screenshot(page, tmp_path, "chat-stopped.png")
    finally:
        page.close()


def scroll_to_top(locator) -> None:
    """Scroll whatever scrolls inside `locator` back to its top."""
    locator.evaluate(
        "root => root.querySelectorAll('*').forEach(e => {"
        " if (e.scrollHeight > e.clientHeight) e.scrollTop = 0; })"
    )


def test_a_conversation_survives_a_reload_and_is_renamed_exported_deleted(
    fast_app, browser, tmp_path
):
    import httpx
    from playwright.sync_api import expect

    from tests.fixtures_docs import write_cjk_pdf

    pdf = write_cjk_pdf(tmp_path, "安装手册.pdf")
    with httpx.Client(base_url=fast_app.base_url, timeout=120) as api:
        assert api.post("/api/kbs", json={"name": "手册"}).status_code == 201
        files = [("files", (pdf.name, pdf.read_bytes()))]
        assert api.post("/api/kbs/手册/docs", files=files).status_code == 200
    page = chinese_page(browser, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page.goto(fast_app.base_url + "/", wait_until="networkidle", timeout=SETTLE_MS)
    listed = page.locator("#conversation-list")
    expect(listed).to_contain_text("还没有保存的对话")
    choose(page, "手册")
    question = "启动服务之前要先安装哪种解释器？"
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    chatbot = page.locator("#chatbot")
    chatbot.locator(".zhiku-copy").first.wait_for(timeout=240_000)  # the answer is finished
    answer = chatbot.inner_text().split(question, 1)[1].split(SOURCES)[0].strip()
    expect(listed).to_contain_text(question)

    # "load", not "networkidle": the page's open event stream may keep the network busy
    page.reload(wait_until="load")
    page.get_by_label("Toggle Sidebar").click()  # the panel starts closed
    expect(chatbot).to_contain_text("安装手册.pdf")  # the answer's sources, restored
    assert answer and answer in chatbot.inner_text()
    expect(listed.get_by_role("radio", name=question)).to_be_checked()
    scroll_to_top(chatbot)  # the question, not only the end of the answer, in the picture
    save_screenshot(page, tmp_path, "conversations.png")

    page.locator("#conversation-title input").fill("安装要求")
    page.locator("#rename-conversation").click()
    expect(listed).to_contain_text("安装要求")  # the list is read back from the store
    with page.expect_download() as download:
        page.locator("#export-conversation").click()
    assert download.value.suggested_filename == "安装要求.md"
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.startswith("# 安装要求\n") and "**安装手册.pdf**" in exported

    page.locator("#delete-conversation").click()
    page.locator("#confirm-delete").click()
    expect(listed).to_contain_text("还没有保存的对话")
    expect(chatbot).not_to_contain_text(question)
    page.close()


# ---- the page in Chinese or in English --------------------------------------------------

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
LANGUAGE_NAMES = {"中文", "English"}
VISIBLE_TEXTS_JS = """
() => {
  // what the page writes itself: text nodes and placeholders of visible elements, less what
  // a user or a document put there (table cells, chat messages, chunk text, typed values)
  const content = 'td, [role=gridcell], #chatbot .message, .zk-chunk, .zk-file, .zk-title, '
    + 'textarea, input';
  const shown = (el) => el && el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== 'hidden';
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    if (text && shown(parent) && !parent.closest(content)) texts.push(text);
  }
  for (const el of document.querySelectorAll('[placeholder]')) {
    const placeholder = (el.getAttribute('placeholder') || '').trim();
    if (shown(el) && placeholder) texts.push(placeholder);
  }
  return texts;
}
"""
TABS = ("tab-chat", "tab-kb", "tab-quality")


def visible_texts(page) -> set[str]:
    """Every text the page shows of its own, on each of its tabs."""
    texts: set[str] = set()
    for tab in TABS:
        page.locator(f"#{tab}-button").click()
        page.locator(f"#{tab}").wait_for(state="visible")
        page.wait_for_timeout(300)  # let the tab's components render
        texts.update(page.evaluate(VISIBLE_TEXTS_JS))
    return texts


def content_names(app) -> set[str]:
    """The names of what users stored: knowledge bases and documents, shown as written."""
    names = set()
    for kb in httpx.get(app.base_url + "/api/kbs", timeout=30).json()["kbs"]:
        names.add(kb["name"])
        docs = httpx.get(f"{app.base_url}/api/kbs/{kb['name']}/docs", timeout=30).json()
        names.update(doc["name"] for doc in docs["docs"])
    return names


def test_switching_the_language_changes_every_visible_label(fast_app, browser, tmp_path):
    from playwright.sync_api import expect

    app = fast_app
    page = chinese_page(browser)
    try:
        page.goto(app.base_url + "/", wait_until="networkidle", timeout=SETTLE_MS)
        expect(page.locator("#tab-kb-button")).to_have_text("知识库")
        chinese = visible_texts(page)
        page.locator("#lang").get_by_text("English").click()
        expect(page.locator("#tab-kb-button")).to_have_text("Knowledge bases")
        page.wait_for_timeout(1000)  # the views that follow the labels (tables, dashboard)
        english = visible_texts(page)
        page.screenshot(path=str(tmp_path / "english.png"), full_page=True)
        page.reload(
            wait_until="networkidle", timeout=SETTLE_MS
        )  # the choice is remembered by this browser
        expect(page.locator("#tab-kb-button")).to_have_text("Knowledge bases")
    finally:
        page.close()
    names = content_names(app)
    still_chinese = sorted(t for t in english if CJK.search(t) and t not in LANGUAGE_NAMES | names)
    assert not still_chinese, f"Chinese left in the English page: {still_chinese}"
    labels = {t for t in chinese if CJK.search(t)} - LANGUAGE_NAMES - names
    assert len(labels) >= 30, sorted(labels)  # the Chinese page was read, all its tabs
    assert not labels & english


def test_upload_progress_dashboard_preview_and_rebuild_confirmation(fast_app, browser, tmp_path):
    """In English this time: an upload shows each file's stage and counts as it goes; a page
    that comes back shows the job; the dashboard and a file's chunks; a rebuild asks first."""
    from playwright.sync_api import expect

    app = fast_app
    doc = tmp_path / "handbook.md"
    sections = [
        f"## Part {i}\n\n" + f"Part {i} explains how zhiku indexes files. " * 12 for i in range(80)
    ]
    doc.write_text("\n\n".join(sections), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="en-US")
    try:
        page.goto(app.base_url + "/", wait_until="networkidle", timeout=SETTLE_MS)
        page.locator("#tab-kb-button").click()
        page.locator("#new-kb textarea, #new-kb input").first.fill("progress-kb")
        page.locator("#create-kb").click()
        page.get_by_text("Created").wait_for(timeout=30_000)
        choose_file(page, doc)
        page.evaluate(RECORD_PROGRESS_JS)
        page.locator("#upload-btn").click()
        expect_indexed(page, timeout_ms=180_000)
        expect(page.locator("#upload-results")).to_contain_text("indexed")
        seen = page.evaluate("() => window.zhikuProgress")
        expect(page.locator("#kb-dashboard")).to_contain_text("Chunks per file type")
        expect(page.locator("#kb-dashboard")).to_contain_text(".md")
        page.locator("#docs-table [role=gridcell]").filter(has_text="handbook.md").first.click()
        expect(page.locator("#chunk-preview")).to_contain_text("Chunks of handbook.md")
        expect(page.locator("#chunk-preview")).to_contain_text("Part 3 explains")

        again = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="en-US")
        again.goto(app.base_url + "/", wait_until="networkidle", timeout=SETTLE_MS)
        again.locator("#tab-kb-button").click()
        again.locator("#kb input").click()
        again.get_by_role("option", name="progress-kb").click()
        expect(again.locator("#ingest-progress")).to_contain_text("Upload into progress-kb")
        expect(again.locator("#ingest-progress")).to_contain_text("finished")
        again.close()

        page.locator("#rebuild-btn").click()
        question = page.locator("#rebuild-question")  # inside the hidden confirmation
        expect(question).to_be_visible()
        expect(question).to_contain_text("Re-embed every original of progress-kb")
        page.locator("#rebuild-no").click()
        expect(question).to_be_hidden()
        page.locator("#rebuild-btn").click()
        page.locator("#rebuild-yes").click()
        expect(question).to_be_hidden()
        expect(page.locator("#ingest-progress")).to_contain_text("Rebuild of progress-kb")
        expect(page.locator("#kb-status")).to_contain_text("Rebuilt: 1/1", timeout=180_000)
        page.screenshot(path=str(tmp_path / "kb.png"), full_page=True)
    finally:
        page.close()
    running = [t for t in seen if "running" in t]
    assert running, seen
    assert any(re.search(r"embedding \d+/\d+", t) for t in running), running
    assert any("left" in t for t in running), running  # an ETA, or that one is coming
    assert "finished" in seen[-1] and "done · " in seen[-1]


RECORD_PROGRESS_JS = """
() => {
  // every state the progress view shows, however briefly
  window.zhikuProgress = [];
  const view = document.querySelector('#ingest-progress');
  const record = () => {
    const text = view.innerText;
    if (text && window.zhikuProgress[window.zhikuProgress.length - 1] !== text) {
      window.zhikuProgress.push(text);
    }
  };
  new MutationObserver(record).observe(view, {subtree: true, childList: true, characterData: true});
}
"""
