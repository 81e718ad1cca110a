"""A real browser (Debian chromium via Playwright): create a KB, upload a scanned Chinese PDF
(read by OCR) through the file picker, ask about it, see the streamed answer and a citation
naming the PDF."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

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


def test_upload_pdf_and_ask_in_the_browser(app_factory, browser, tmp_path):
    from playwright.sync_api import expect

    from tests.fixtures_docs import write_scan_pdf

    app = app_factory()
    scan = write_scan_pdf(tmp_path, "合同扫描件.pdf")  # image-only: its text is read by OCR
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(app.base_url + "/", wait_until="networkidle")

    page.get_by_role("tab", name="知识库 Knowledge base").click()
    page.locator("#new-kb textarea, #new-kb input").first.fill("合同资料")
    page.locator("#create-kb").click()
    page.get_by_text("已创建 created").wait_for(timeout=30_000)

    choose_file(page, scan)
    page.locator("#upload-btn").click()
    results = page.locator("#upload-results")
    expect(page.locator("#kb-status")).to_contain_text("1/1", timeout=240_000)
    expect(results).to_contain_text("合同扫描件.pdf")
    expect(results).to_contain_text("ok")
    page.screenshot(path=str(tmp_path / "uploaded.png"), full_page=True)

    page.get_by_role("tab", name="对话 Chat").click()
    page.get_by_label("知识库 Knowledge base").first.click()
    page.get_by_role("option", name="合同资料").click()
    page.locator("#question textarea").fill("乙方应在收到货物后多少日内付清全部货款？")
    page.locator("#send").click()

    chatbot = page.locator("#chatbot")
    snapshots = watch_until(chatbot, "来源 Sources", timeout_s=240)
    growing = [t for t in snapshots if "来源 Sources" not in t]
    assert len({len(t) for t in growing}) >= 3, "the answer did not stream in"
    text = chatbot.inner_text()
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
    assert "合同扫描件.pdf" in text
    assert "score" in text
    answer = text.split("来源 Sources")[0]
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
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(app.base_url + "/", wait_until="networkidle")
        page.get_by_role("tab", name="知识库 Knowledge base").click()
        page.locator("#new-kb textarea, #new-kb input").first.fill("探针库")
        page.locator("#create-kb").click()
        page.get_by_text("已创建 created").wait_for(timeout=30_000)
        choose_file(page, doc)
        page.locator("#upload-btn").click()
        expect(page.locator("#kb-status")).to_contain_text("1/1", timeout=120_000)
        expect(page.locator("#upload-results")).to_contain_text("it's _x_.md")

        page.get_by_role("tab", name="对话 Chat").click()
        page.get_by_label("知识库 Knowledge base").first.click()
        page.get_by_role("option", name="探针库").click()
        page.locator("#question textarea").fill("发布日期是哪天？")
        page.locator("#send").click()
        chatbot = page.locator("#chatbot")
        watch_until(chatbot, "来源 Sources", timeout_s=120)
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
