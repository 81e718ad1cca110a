"""A real browser (Debian chromium via Playwright): create a KB, upload a Chinese PDF through
the file picker, ask about it, see the streamed answer and a citation naming the PDF."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

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


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "chromium missing: `make test` installs it (apt chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def app(app_factory):
    """One app for the tests that need no particular model."""
    return app_factory()


def chinese_page(browser):
    """A page of a browser whose language is Chinese: the UI is in Chinese."""
    return browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")


def test_upload_pdf_and_ask_in_the_browser(app, browser, tmp_path):
    from playwright.sync_api import expect

    from tests.fixtures_docs import write_cjk_pdf

    pdf = write_cjk_pdf(tmp_path, "岳飞生平.pdf")
    page = chinese_page(browser)
    page.goto(app.base_url + "/", wait_until="networkidle")

    page.get_by_role("tab", name="知识库").click()
    page.locator("#new-kb textarea, #new-kb input").first.fill("历史资料")
    page.locator("#create-kb").click()
    page.get_by_text("已创建").wait_for(timeout=30_000)

    choose_file(page, pdf)
    page.locator("#upload-btn").click()
    results = page.locator("#upload-results")
    expect(page.locator("#kb-status")).to_contain_text("1/1", timeout=120_000)
    expect(results).to_contain_text("岳飞生平.pdf")
    expect(results).to_contain_text("已索引")
    page.screenshot(path=str(tmp_path / "uploaded.png"), full_page=True)

    page.get_by_role("tab", name="对话").click()
    page.get_by_label("知识库", exact=True).first.click()
    page.get_by_role("option", name="历史资料").click()
    page.locator("#question textarea").fill("启动服务之前要先安装哪种解释器？")
    page.locator("#send").click()

    chatbot = page.locator("#chatbot")
    snapshots = watch_until(chatbot, "来源", timeout_s=240)
    growing = [t for t in snapshots if "来源" not in t]
    assert len({len(t) for t in growing}) >= 3, "the answer did not stream in"
    text = chatbot.inner_text()
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
    assert "岳飞生平.pdf" in text
    assert "相关度" in text
    answer = text.split("来源")[0]
    assert "Python" in answer


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


def test_nothing_a_document_or_the_model_writes_is_fetched(app_factory, browser, tmp_path):
    """A document and a model answer full of images and links: the browser shows them as
    text, and the local image server they point at gets no request."""
    from playwright.sync_api import expect

    from tests.e2e.test_attacks import listener_server
    from tests.unit.test_llm_openai import FakeServer, sse_answer

    images, model = listener_server(), FakeServer()
    port = images.server_address[1]
    model.responder = sse_answer([piece.format(port=port) for piece in HOSTILE_ANSWER])
    threading.Thread(target=model.serve_forever, args=(0.05,), daemon=True).start()
    entry = {"backend": "openai", "api_base_url": model.base_url, "model": "served-model"}
    env = {"ZHIKU_LLM_MODEL_DICT": json.dumps({"remote": entry})}
    app = app_factory("remote", env)
    doc = tmp_path / "it's _x_.md"
    doc.write_text(
        f"# 探针\n\n发布日期是十二月十日。![图](http://127.0.0.1:{port}/doc.png)\n"
        f'<img src="http://127.0.0.1:{port}/doc-tag.png"> 价格 $5 和 $10。\n',
        encoding="utf-8",
    )
    page = chinese_page(browser)
    try:
        page.goto(app.base_url + "/", wait_until="networkidle")
        page.get_by_role("tab", name="知识库").click()
        page.locator("#new-kb textarea, #new-kb input").first.fill("探针库")
        page.locator("#create-kb").click()
        page.get_by_text("已创建").wait_for(timeout=30_000)
        choose_file(page, doc)
        page.locator("#upload-btn").click()
        expect(page.locator("#kb-status")).to_contain_text("1/1", timeout=120_000)
        expect(page.locator("#upload-results")).to_contain_text("it's _x_.md")

        page.get_by_role("tab", name="对话").click()
        page.get_by_label("知识库", exact=True).first.click()
        page.get_by_role("option", name="探针库").click()
        page.locator("#question textarea").fill("发布日期是哪天？")
        page.locator("#send").click()
        chatbot = page.locator("#chatbot")
        watch_until(chatbot, "来源", timeout_s=120)
        page.wait_for_timeout(1000)  # let any image the page shows be requested
        page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
        text = chatbot.inner_text()
        hrefs = chatbot.locator("a").evaluate_all("links => links.map(a => a.href)")
        sources = chatbot.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")
    finally:
        page.close()
        images.shutdown()
        model.shutdown()
    assert images.paths == []  # type: ignore[attr-defined]
    assert not [src for src in sources if str(port) in src]
    assert not [h for h in hrefs if str(port) in h or h.startswith("javascript")]
    assert f"![探针](http://127.0.0.1:{port}/answer.png)" in text  # shown, as text
    assert "it's _x_.md" in text and "$5 和 $10" in text


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


def test_switching_the_language_changes_every_visible_label(app, browser, tmp_path):
    from playwright.sync_api import expect

    page = chinese_page(browser)
    try:
        page.goto(app.base_url + "/", wait_until="networkidle")
        expect(page.locator("#tab-kb-button")).to_have_text("知识库")
        chinese = visible_texts(page)
        page.locator("#lang").get_by_text("English").click()
        expect(page.locator("#tab-kb-button")).to_have_text("Knowledge bases")
        page.wait_for_timeout(1000)  # the views that follow the labels (tables, dashboard)
        english = visible_texts(page)
        page.screenshot(path=str(tmp_path / "english.png"), full_page=True)
        page.reload(wait_until="networkidle")  # the choice is remembered by this browser
        expect(page.locator("#tab-kb-button")).to_have_text("Knowledge bases")
    finally:
        page.close()
    names = content_names(app)
    still_chinese = sorted(t for t in english if CJK.search(t) and t not in LANGUAGE_NAMES | names)
    assert not still_chinese, f"Chinese left in the English page: {still_chinese}"
    labels = {t for t in chinese if CJK.search(t)} - LANGUAGE_NAMES - names
    assert len(labels) >= 30, sorted(labels)  # the Chinese page was read, all its tabs
    assert not labels & english


def test_upload_progress_dashboard_preview_and_rebuild_confirmation(app, browser, tmp_path):
    """In English this time: an upload shows each file's stage and counts as it goes; a page
    that comes back shows the job; the dashboard and a file's chunks; a rebuild asks first."""
    from playwright.sync_api import expect

    doc = tmp_path / "handbook.md"
    sections = [
        f"## Part {i}\n\n" + f"Part {i} explains how zhiku indexes files. " * 12 for i in range(80)
    ]
    doc.write_text("\n\n".join(sections), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="en-US")
    try:
        page.goto(app.base_url + "/", wait_until="networkidle")
        page.locator("#tab-kb-button").click()
        page.locator("#new-kb textarea, #new-kb input").first.fill("progress-kb")
        page.locator("#create-kb").click()
        page.get_by_text("Created").wait_for(timeout=30_000)
        choose_file(page, doc)
        page.evaluate(RECORD_PROGRESS_JS)
        page.locator("#upload-btn").click()
        # "1/1", or "1/2" when choose_file had to set the file twice (the copy is unchanged)
        expect(page.locator("#kb-status")).to_contain_text("files indexed", timeout=180_000)
        expect(page.locator("#upload-results")).to_contain_text("indexed")
        seen = page.evaluate("() => window.zhikuProgress")
        expect(page.locator("#kb-dashboard")).to_contain_text("Chunks per file type")
        expect(page.locator("#kb-dashboard")).to_contain_text(".md")
        page.locator("#docs-table [role=gridcell]").filter(has_text="handbook.md").first.click()
        expect(page.locator("#chunk-preview")).to_contain_text("Chunks of handbook.md")
        expect(page.locator("#chunk-preview")).to_contain_text("Part 3 explains")

        again = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="en-US")
        again.goto(app.base_url + "/", wait_until="networkidle")
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
