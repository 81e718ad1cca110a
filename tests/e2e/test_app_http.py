"""The whole app over HTTP: create a KB, upload, search, chat (stream and not), a kept
conversation, delete, restart."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

KB = "测试知识库"
ZH_DOC = (
    "# 星河科技\n\n## 公司简介\n\n星河科技公司成立于1987年，总部位于杭州市西湖区。"
    "公司的创始人是林晓峰，主要产品是工业机器人控制器。\n\n"
    "## 财务\n\n2023年公司营业收入为48亿元，员工人数约为3200人。\n"
)
EN_DOC = (
    "The Zephyr Valley Observatory was founded in 1962 by the astronomer Helen Marsh. "
    "Its main telescope has a 3.2 metre mirror and sits at an altitude of 2,400 metres.\n\n"
    "The observatory closes to visitors every February for maintenance.\n"
)


def upload(client: httpx.Client, kb: str, files: dict[str, bytes]) -> httpx.Response:
    return client.post(
        f"/api/kbs/{kb}/docs",
        files=[("files", (name, data)) for name, data in files.items()],
        timeout=300,
    )


# The default LLM, as users run the app: the 0.5B "fast" entry answers these questions
# right or wrong depending on the sampling and on what its KV cache held before (seen: "2062"
# for "1962", and a bare "[1]"), which is a measure of that model, not of the app.
DEFAULT_LLM = runpy.run_path(str(Path(__file__).parents[2] / "configs" / "model_config.py"))[
    "LLM_MODEL"
]


@pytest.fixture(scope="module")
def app(app_factory):
    # web pages are served from 127.0.0.1 here, so private addresses are allowed
    return app_factory(DEFAULT_LLM, env={"ZHIKU_ALLOW_PRIVATE_URLS": "true"})


@pytest.fixture(scope="module")
def client(app):
    with httpx.Client(base_url=app.base_url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def filled_kb(client, tmp_path_factory):
    from tests.fixtures_docs import write_cjk_pdf, write_docx

    folder = tmp_path_factory.mktemp("docs")
    pdf = write_cjk_pdf(folder, "岳飞传.pdf")
    docx = write_docx(folder, "制度.docx")
    assert client.post("/api/kbs", json={"name": KB}).status_code == 201
    response = upload(
        client,
        KB,
        {
            "星河科技.md": ZH_DOC.encode(),
            "observatory.txt": EN_DOC.encode(),
            pdf.name: pdf.read_bytes(),
            docx.name: docx.read_bytes(),
            "notes.xyz": b"unknown type",
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_create_twice_is_409_and_listed(client, filled_kb):
    assert client.post("/api/kbs", json={"name": KB}).status_code == 409
    kbs = {k["name"]: k for k in client.get("/api/kbs").json()["kbs"]}
    assert kbs[KB]["docs"] == 4
    assert kbs[KB]["chunks"] == filled_kb["chunks"] > 0


def test_upload_reports_each_file(filled_kb):
    by_name = {f["name"]: f for f in filled_kb["files"]}
    for name in ("星河科技.md", "observatory.txt", "岳飞传.pdf", "制度.docx"):
        assert by_name[name]["status"] == "ok", by_name[name]
        assert by_name[name]["chunks"] > 0
    assert by_name["notes.xyz"]["status"] == "error"
    assert ".pdf" in by_name["notes.xyz"]["error"]  # says which types are allowed


def test_docs_listed_with_sizes(client, filled_kb):
    docs = {d["name"]: d for d in client.get(f"/api/kbs/{KB}/docs").json()["docs"]}
    assert docs["星河科技.md"]["bytes"] == len(ZH_DOC.encode())
    assert set(docs) == {"星河科技.md", "observatory.txt", "岳飞传.pdf", "制度.docx"}


@pytest.mark.parametrize(
    ("query", "source", "needle"),
    [
        ("星河科技的创始人是谁？", "星河科技.md", "林晓峰"),
        ("How large is the mirror of the Zephyr Valley telescope?", "observatory.txt", "3.2"),
    ],
)
def test_search_ranks_the_right_chunk_first(client, filled_kb, query, source, needle):
    results = client.post(f"/api/kbs/{KB}/search", json={"query": query, "top_k": 5}).json()[
        "results"
    ]
    assert results[0]["source"] == source
    assert needle in results[0]["text"]
    scores = [r["score"] for r in results]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)


def test_pdf_and_docx_results_carry_source_and_page(client, filled_kb):
    pdf_hit = client.post(
        f"/api/kbs/{KB}/search", json={"query": "启动服务之前要先安装哪种解释器？", "top_k": 3}
    ).json()["results"][0]
    assert pdf_hit["source"] == "岳飞传.pdf"
    assert pdf_hit["page"] == 2
    assert "Python解释器" in pdf_hit["text"]
    docx_hit = client.post(
        f"/api/kbs/{KB}/search", json={"query": "top_k 参数的默认值是多少？", "top_k": 3}
    ).json()["results"][0]
    assert docx_hit["source"] == "制度.docx"
    assert "默认值" in docx_hit["text"] and "top_k" in docx_hit["text"]


def test_a_web_page_is_added_by_url_searched_and_cited_with_its_url(client):
    from tests import fixtures_web as fw

    site = fw.site()
    assert client.post("/api/kbs", json={"name": "网页"}).status_code == 201
    try:
        url = site.url("/article.html")
        reply = client.post("/api/kbs/网页/urls", json={"urls": [url]}, timeout=300)
        assert reply.status_code == 200, reply.text
        assert reply.json()["urls"][0]["status"] == "ok"
        query = "高雄港的灯塔是哪一年建的？"
        hits = client.post("/api/kbs/网页/search", json={"query": query, "top_k": 3}).json()
        first = hits["results"][0]  # the chat's sources carry `url` alike (test_api_urls.py)
        assert first["url"] == url and "1883" in first["text"]
        assert first["source"] == f"127.0.0.1_{site.port}_article.html"
    finally:
        site.stop()
        assert client.delete("/api/kbs/网页").status_code == 200


def test_chat_answers_from_the_kb_with_sources(client, filled_kb):
    body = {"kb": KB, "query": "星河科技公司成立于哪一年？", "stream": False}
    reply = client.post("/api/chat", json=body, timeout=300).json()
    assert "1987" in reply["answer"]
    assert reply["sources"][0]["source"] == "星河科技.md"
    assert 0 <= reply["sources"][0]["score"] <= 1


def test_chat_streams_tokens_then_sources(client, filled_kb):
    body = {"kb": KB, "query": "When was the Zephyr Valley Observatory founded?", "stream": True}
    events = []
    with client.stream("POST", "/api/chat", json=body, timeout=300) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: ") :])))
    kinds = [k for k, _ in events]
    assert kinds.count("token") > 1
    assert kinds[-2:] == ["sources", "done"]
    answer = "".join(d["text"] for k, d in events if k == "token")
    assert "1962" in answer
    assert events[-2][1]["sources"][0]["source"] == "observatory.txt"


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("Which team won Super Bowl 50?", "I could not find the answer in the documents."),
        ("巴吞他尼府是哪个国家中部的一个府？", "资料中没有找到答案。"),
    ],
)
def test_an_off_topic_question_gets_the_not_found_reply_in_its_language(
    client, filled_kb, question, reply
):
    body = {"kb": KB, "query": question, "stream": False}
    answer = client.post("/api/chat", json=body, timeout=300).json()
    assert answer["answer"] == reply
    assert answer["sources"] == []


def test_plain_chat_without_kb(client):
    reply = client.post("/api/chat", json={"kb": None, "query": "Say hello.", "stream": False})
    assert reply.status_code == 200
    assert reply.json()["answer"].strip()
    assert reply.json()["sources"] == []


def test_the_ui_stream_reads_as_bench_streaming_reads_it(app):
    """scripts/bench_streaming.py calls the UI's `/respond` with gradio_client, as a page
    does; when the handler's arguments change, the script must follow (it once sent none
    of the page's session)."""
    from scripts.bench_streaming import gradio_answer

    received = gradio_answer(app.base_url, "unused", "Say hello.")
    assert len(received.times) > 0, "no answer text came through the UI's stream"


TRADITIONAL_DOC = (
    "# 建州之亂\n\n建炎四年，范汝為在建州起兵，聚眾十餘萬人，軍隊駐紮在建州城裏的開元寺。"
    "朝廷派岳飛率軍征討，次年亂事平定。\n"
)


def test_traditional_question_answered_with_the_documents_own_characters(client):
    # The default model reads Traditional sources in Simplified (simplified_reading); what it
    # copies comes back as the document writes it: OpenCC alone turns 城里 into 城裡, and
    # 范汝为 into 範汝為.
    from rag.chains.script import ScriptConverter

    assert client.post("/api/kbs", json={"name": "繁體"}).status_code == 201
    try:
        assert upload(client, "繁體", {"建州.md": TRADITIONAL_DOC.encode()}).status_code == 200
        # "開元寺在哪裡？" scored 0.9136 on the answerability check on one CPU (AMD EPYC), under
        # its 0.915, and passed it on another (Xeon): the int8 embedding's cosines differ by
        # a few thousandths. This one scores 1.004 there; asked after "who" (the model's
        # cache then holds that prompt), it copies 城裏.
        asked = {"who": "建炎四年在建州起兵的人是誰？", "where": "開元寺在建州的哪裡？"}
        answers = {}
        for key, query in asked.items():
            body = {"kb": "繁體", "query": query, "stream": False}
            answers[key] = client.post("/api/chat", json=body, timeout=300).json()["answer"]
        assert "范汝為" in answers["who"], answers
        assert "城裏" in answers["where"], answers
        answer = "".join(answers.values())
        converter = ScriptConverter()  # no Simplified characters but the document's own (范)
        simplified = {c for c in answer if converter.has_simplified_only(c)}
        assert simplified <= set(TRADITIONAL_DOC), answer
    finally:
        assert client.delete("/api/kbs/繁體").status_code == 200


NUMBERS_DOCS = {
    "吉州.md": "# 吉州防務\n\n1130年，金兵南下。紹興元年（1131年），岳飛派二千人駐守吉州，"
    "又令部將率三百騎巡視贛江沿岸，1132年返回。\n",
    "華碩.md": "# 華碩\n\n華碩成立於1989年，總部位於台北。華碩是2015年銷量第四的個人電腦"
    "供應商，2016年營收為147億美元。\n",
    "港口.md": "# 港口\n\n史特拉斯堡港建於1920年，是萊茵河沿線的第二大港口，2010年貨運量"
    "為850萬噸。\n",
}


def test_numbers_in_answers_are_written_as_the_document_writes_them(client):
    # Among the years of this text the 1.5B copies 三百騎 as 300騎 (checked with
    # rag.chains.numbers switched off); the document's own number comes back.
    assert client.post("/api/kbs", json={"name": "數字"}).status_code == 201
    try:
        docs = {name: text.encode() for name, text in NUMBERS_DOCS.items()}
        assert upload(client, "數字", docs).status_code == 200
        asked = {"三百騎": "岳飛令部將率多少騎巡視贛江？", "二千人": "岳飛派多少人駐守吉州？"}
        for written, query in asked.items():
            body = {"kb": "數字", "query": query, "stream": False}
            answer = client.post("/api/chat", json=body, timeout=300).json()["answer"]
            assert written in answer, answer
    finally:
        assert client.delete("/api/kbs/數字").status_code == 200


OFFICE_KB = "邮件与旧文档"


def search(client: httpx.Client, kb: str, query: str, top_k: int = 5) -> list[dict]:
    response = client.post(f"/api/kbs/{kb}/search", json={"query": query, "top_k": top_k})
    assert response.status_code == 200, response.text
    return response.json()["results"]


@pytest.fixture(scope="module")
def office_kb(client, tmp_path_factory):
    """A saved e-mail with a PDF and a text file attached, and a Word 97 .doc."""
    from tests.fixtures_office import copy_doc, write_eml_with_pdf

    folder = tmp_path_factory.mktemp("office")
    mail = write_eml_with_pdf(folder, "mail.eml")
    doc = copy_doc(folder, "采购规定.doc")
    assert client.post("/api/kbs", json={"name": OFFICE_KB}).status_code == 201
    response = upload(client, OFFICE_KB, {p.name: p.read_bytes() for p in (mail, doc)})
    assert response.status_code == 200, response.text
    return response.json()


def test_mail_attachments_and_a_doc_are_searched_and_cited(client, office_kb):
    assert {f["name"]: f["status"] for f in office_kb["files"]} == {
        "mail.eml": "ok",
        "采购规定.doc": "ok",
    }
    docs = client.get(f"/api/kbs/{OFFICE_KB}/docs").json()["docs"]
    assert {d["name"] for d in docs} == {"mail.eml", "采购规定.doc"}
    [first, *_] = search(client, OFFICE_KB, "安装之前电脑至少要有多少内存？")
    assert (first["source"], first["page"]) == ("mail.eml/attachment.pdf", 2)
    assert "八个千兆字节" in first["text"]
    [first, *_] = search(client, OFFICE_KB, "城东物流园的租金是多少？")
    assert first["source"] == "mail.eml/说明.txt"
    [first, *_] = search(client, OFFICE_KB, "谁发的新仓库选址通知？")
    assert first["source"] == "mail.eml" and "王芳" in first["text"]
    [first, *_] = search(client, OFFICE_KB, "超过五千元的采购需要谁批准？")
    assert first["source"] == "采购规定.doc" and "财务总监" in first["text"]


def test_deleting_the_mail_deletes_its_attachments(client, office_kb):
    assert client.delete(f"/api/kbs/{OFFICE_KB}/docs/mail.eml").status_code == 200
    left = search(client, OFFICE_KB, "城东物流园的租金 安装之前的内存", top_k=20)
    assert left and {r["source"] for r in left} == {"采购规定.doc"}
    assert client.delete(f"/api/kbs/{OFFICE_KB}").status_code == 200


def test_errors_are_json_without_tracebacks(client):
    missing = client.post("/api/kbs/nope/search", json={"query": "x"})
    assert missing.status_code == 404
    assert "nope" in missing.json()["error"]
    invalid = client.post("/api/chat", json={"query": ""})
    assert invalid.status_code == 422 and "error" in invalid.json()
    bad_name = client.post("/api/kbs", json={"name": "../evil"})
    assert bad_name.status_code == 400
    assert "Traceback" not in bad_name.text


SESSION = {"X-Zhiku-Session": "e2e-session-0123456789"}
OFF_TOPIC = "巴吞他尼府是哪个国家中部的一个府？"


@pytest.fixture(scope="module")
def kept_conversation(client, filled_kb):
    """A conversation kept over the API: one turn the KB has no answer for (answered without
    the model, so it costs no generation)."""
    body = {"kb": KB, "query": OFF_TOPIC, "conversation_id": "new"}
    reply = client.post("/api/chat", json=body, headers=SESSION, timeout=300)
    assert reply.status_code == 200, reply.text
    assert reply.headers["X-Zhiku-Conversation"] == reply.json()["conversation_id"]
    return reply.json()["conversation_id"]


def test_a_conversation_is_kept_and_only_its_owner_sees_it(client, kept_conversation):
    path = f"/api/conversations/{kept_conversation}"
    listed = client.get("/api/conversations", headers=SESSION).json()["conversations"]
    assert [(c["id"], c["title"], c["kb"]) for c in listed] == [(kept_conversation, OFF_TOPIC, KB)]
    detail = client.get(path, headers=SESSION).json()
    assert [m["text"] for m in detail["messages"]] == [OFF_TOPIC, "资料中没有找到答案。"]
    export = client.get(path + "/export.md", headers=SESSION)
    assert export.status_code == 200 and "资料中没有找到答案。" in export.text
    other = {"X-Zhiku-Session": "another-session-0123456"}
    assert client.get(path, headers=other).status_code == 404
    assert client.get("/api/conversations").status_code == 400  # no session: says to send one


SCAN_KB = "扫描件"


@pytest.fixture(scope="module")
def scanned_kb(client, tmp_path_factory):
    """A photo of a notice (PNG) and an image-only PDF of two pages, read by OCR."""
    from tests.fixtures_docs import write_scan_pdf, write_scan_png

    folder = tmp_path_factory.mktemp("scans")
    png, pdf = write_scan_png(folder), write_scan_pdf(folder)
    assert client.post("/api/kbs", json={"name": SCAN_KB}).status_code == 201
    response = upload(client, SCAN_KB, {png.name: png.read_bytes(), pdf.name: pdf.read_bytes()})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("query", "source", "page", "needle"),
    [
        ("乙方应在收到货物后多少日内付清货款？", "contract-scan.pdf", 2, "十五日"),
        ("When does the water supply stop?", "notice.png", 1, "June 12"),
    ],
)
def test_scans_and_images_are_read_by_ocr_and_found_with_their_page(
    client, scanned_kb, query, source, page, needle
):
    assert [f["status"] for f in scanned_kb["files"]] == ["ok", "ok"], scanned_kb
    hit = client.post(f"/api/kbs/{SCAN_KB}/search", json={"query": query, "top_k": 3}).json()[
        "results"
    ][0]
    assert (hit["source"], hit["page"]) == (source, page)
    assert needle in hit["text"]


def test_restart_keeps_kb_and_results_then_delete(
    app, app_factory, client, filled_kb, kept_conversation
):
    query = {"query": "星河科技2023年的营业收入是多少？", "top_k": 5}
    before = client.post(f"/api/kbs/{KB}/search", json=query).json()["results"]
    app.stop()
    restarted = app_factory(DEFAULT_LLM)
    with httpx.Client(base_url=restarted.base_url, timeout=120) as again:
        assert again.post(f"/api/kbs/{KB}/search", json=query).json()["results"] == before
        assert again.delete(f"/api/kbs/{KB}/docs/星河科技.md").status_code == 200
        assert again.delete(f"/api/kbs/{KB}/docs/星河科技.md").status_code == 404
        after = again.post(f"/api/kbs/{KB}/search", json={**query, "top_k": 50}).json()
        assert all("林晓峰" not in r["text"] for r in after["results"])
        assert all(r["source"] != "星河科技.md" for r in after["results"])
        assert again.delete(f"/api/kbs/{KB}").status_code == 200
        assert again.post(f"/api/kbs/{KB}/search", json=query).status_code == 404
        assert again.delete(f"/api/kbs/{KB}").status_code == 404
        # the conversation outlives the restart and its knowledge base, text kept
        kept = again.get(f"/api/conversations/{kept_conversation}", headers=SESSION).json()
        assert kept["kb"] == KB and kept["messages"][0]["text"] == OFF_TOPIC
