"""scripts/devgate.py's pure parts: SSE parsing, citations, tables, the gate's verdict."""

import json

import pytest

from rag.chains.not_found import NOT_FOUND_REPLIES, is_not_found, mentions_not_found
from rag.chains.quoting import without_quote
from rag.chains.script import ScriptConverter
from rag.settings import load_settings
from scripts.devgate import (
    EN_OFFTOPIC,
    LANGS,
    ROWS,
    StreamedReply,
    gate_verdict,
    invalid_citations,
    lang_table,
    parse_env,
    parse_sse,
    summarize,
)


def sse(*events: tuple[str, dict]) -> list[str]:
    """Lines as the app writes them (rag/api: `event: …`, `data: …`, blank line)."""
    lines = []
    for name, data in events:
        lines += [f"event: {name}", f"data: {json.dumps(data, ensure_ascii=False)}", ""]
    return lines


def replay(lines: list[str]) -> StreamedReply:
    reply = StreamedReply(started=100.0)
    for now, (event, data) in enumerate(parse_sse(lines), start=101):
        reply.feed(event, data, float(now))
    return reply


def test_sse_events_are_parsed_in_order_with_their_json():
    lines = sse(("token", {"text": "台北"}), ("sources", {"sources": []}), ("done", {}))
    assert list(parse_sse([": keep-alive", *lines])) == [
        ("token", {"text": "台北"}),
        ("sources", {"sources": []}),
        ("done", {}),
    ]


def test_reply_joins_tokens_and_times_the_first():
    source = {"index": 1, "source": "a.md", "text": "…", "score": 0.9}
    lines = sse(
        ("token", {"text": "台北"}),
        ("token", {"text": " [1]"}),
        ("sources", {"sources": [source]}),
        ("done", {}),
    )
    reply = replay(lines)
    assert reply.answer == "台北 [1]"
    assert reply.sources == [source]
    assert reply.first_token_s == 1.0  # the first event, one tick after the request
    assert reply.done and reply.restarts == 0 and reply.error is None


def test_replace_withdraws_the_tokens_before_it_but_not_the_first_token_time():
    lines = sse(
        ("token", {"text": "萊茵河是第幾大港口？"}),
        ("replace", {"text": "第二"}),
        ("token", {"text": "大 [1]"}),
        ("done", {}),
    )
    reply = replay(lines)
    assert reply.answer == "第二大 [1]"
    assert reply.restarts == 1
    assert reply.first_token_s == 1.0


def test_error_event_is_kept():
    reply = replay(sse(("error", {"error": "model failed"}), ("done", {})))
    assert reply.error == "model failed" and reply.answer == ""


@pytest.mark.parametrize(
    ("answer", "invalid"),
    [
        ("台北 [1]", []),
        ("台北 [1][2]", []),
        ("台北 [1, 2]", []),
        ("台北 [3]", [3]),
        ("台北 [1，4]", [4]),
        ("台北【5】 and ［2］", [5]),
        ("no citation at all", []),
    ],
)
def test_invalid_citations_name_numbers_of_no_returned_source(answer, invalid):
    sources = [{"index": 1}, {"index": 2}]
    assert invalid_citations(answer, sources) == invalid


def test_every_citation_is_invalid_without_sources():
    assert invalid_citations("see [1]", []) == [1]


def test_not_found_is_the_apps_own_decision():
    answer = load_settings(env={}).answer
    traditional = ScriptConverter().to_traditional(NOT_FOUND_REPLIES["zh-Hans"])
    assert is_not_found(traditional, answer)
    assert is_not_found(" 資料中沒有找到答案 (I could not find…)", answer)
    assert not is_not_found("台北 [1] (I could not find the answer in the documents)", answer)
    assert mentions_not_found("台北 [1] (I could not find the answer in the documents)", answer)
    prefixes = '["根据已知信息无法回答该问题", "根據已知信息無法回答該問題"]'
    chatchat = load_settings(env={"ZHIKU_NOT_FOUND_PREFIXES": prefixes}).answer
    assert is_not_found("根據已知信息無法回答該問題。", chatchat)


def row(**overrides) -> dict:
    base = {
        "em": 0.0,
        "f1": 0.5,
        "contains": 1.0,
        "answer": "Paris [1]",
        "not_found": False,
        "mentions_not_found": False,
        "invalid_citations": [],
        "first_token_s": 2.0,
        "total_s": 3.0,
        "restarts": 0,
        "error": None,
    }
    return {**base, **overrides}


def test_summary_counts_refusals_citations_and_mixed_replies():
    retrieval = {"hit@1": 0.9, "hit@5": 0.95, "hit@10": 1.0, "mrr@10": 0.93, "n_searched": 10}
    answered = [
        row(),
        row(contains=0.0, not_found=True, mentions_not_found=True, answer="not found"),
        row(answer="Paris"),
    ]
    offtopic = [
        row(not_found=True, mentions_not_found=True, first_token_s=9.0),
        row(mentions_not_found=True, invalid_citations=[3, 4]),
    ]
    summary = summarize(retrieval, answered, offtopic)
    assert summary["hit@1"] == 90.0 and summary["hit@10"] == 100.0
    assert summary["contains"] == 66.7
    assert summary["contains_alone"] is None  # rows written before the quote was scored
    assert summary["uncited_answers"] == 1  # "Paris"; the refusal needs no citation
    assert summary["not_found_answerable"] == 1
    assert summary["offtopic_not_found"] == 50.0
    assert summary["answer_and_refusal"] == 1
    assert summary["invalid_citations"] == 2
    assert summary["first_token_p50_s"] == 2.0  # answerable questions only
    assert summary["load_1m_mean"] is None  # the rows here carry no load


def test_the_answer_above_its_quote_is_scored_too():
    retrieval = {"hit@1": 1.0, "hit@5": 1.0, "hit@10": 1.0, "n_searched": 2}
    quoted = row(contains_alone=0.0, f1_alone=0.2)  # the gold only in the quote
    summary = summarize(retrieval, [quoted, row(contains_alone=1.0, f1_alone=0.6)], [])
    assert summary["contains"] == 100.0 and summary["contains_alone"] == 50.0
    assert summary["f1_alone"] == 40.0
    answer = "当工人 [1]\n\n> 马飚中学毕业后，在柳州钢铁厂当工人。 [1]"
    assert without_quote(answer) == "当工人 [1]"
    assert without_quote("当工人 [1]\n\n> 引文 [x]") == "当工人 [1]\n\n> 引文 [x]"


def test_summary_averages_the_load_while_answering():
    retrieval = {"hit@1": 1.0, "hit@5": 1.0, "hit@10": 1.0, "n_searched": 1}
    summary = summarize(retrieval, [row(load_1m=2.0)], [row(load_1m=4.0)])
    assert (summary["load_1m_mean"], summary["load_1m_max"]) == (3.0, 4.0)


def figures(hit1=90.0, hit5=95.0, hit10=98.0, contains=80.0, **more) -> dict:
    return {
        "hit@1": hit1,
        "hit@5": hit5,
        "hit@10": hit10,
        "contains": contains,
        "answered": 100,
        "offtopic_not_found": 50.0,
        "invalid_citations": 0,
        "first_token_p50_s": 4.0,
        **more,
    }


def test_verdict_passes_only_when_all_three_improve_beyond_noise():
    before = {lang: figures() for lang in LANGS}
    now = {lang: figures(contains=83.0) for lang in LANGS}
    verdict = gate_verdict(now, before)
    assert verdict.passed and not verdict.violations
    assert set(verdict.per_lang.values()) == {"better"}


def test_verdict_flags_each_regression_beyond_noise():
    before = {lang: figures() for lang in LANGS}
    now = {lang: figures(contains=90.0) for lang in LANGS}
    now["en"] = figures(hit1=88.5, contains=77.5)  # -1.5 hit@1, -2.5 contains
    now["zh"] = figures(hit5=94.0, contains=78.0)  # -1 and -2: noise, not regressions
    verdict = gate_verdict(now, before)
    assert not verdict.passed
    assert verdict.violations == [
        "en: hit@1 90.0 -> 88.5 (-1.5)",
        "en: contains 80.0 -> 77.5 (-2.5)",
    ]
    assert verdict.per_lang == {"zh_tw": "better", "zh": "same", "en": "worse"}
    assert verdict.status.startswith("regression on en")


def test_verdict_without_gain_everywhere_keeps_the_default():
    before = {lang: figures() for lang in LANGS}
    now = {**before, "zh": figures(contains=85.0)}
    verdict = gate_verdict(now, before)
    assert not verdict.passed and not verdict.violations
    assert "zh_tw" in verdict.status and "en" in verdict.status


def test_verdict_needs_all_three_languages_and_equal_question_counts():
    before = {lang: figures() for lang in LANGS}
    now = {"en": figures(contains=90.0, answered=3)}
    verdict = gate_verdict(now, before)
    assert not verdict.passed
    assert "zh_tw: not measured in both runs" in verdict.violations
    assert "en: 3 answered against 100: not comparable" in verdict.violations
    assert verdict.status.startswith("not comparable")


def test_verdict_notes_off_topic_citations_and_speed():
    before = {lang: figures() for lang in LANGS}
    now = {
        lang: figures(offtopic_not_found=40.0, invalid_citations=2, first_token_p50_s=6.0)
        for lang in LANGS
    }
    notes = " ".join(gate_verdict(now, before).notes)
    assert "off-topic refusals 50.0 -> 40.0" in notes
    assert "invalid citations 0 -> 2" in notes
    assert "1.50x" in notes


def test_table_shows_values_and_with_a_stored_run_the_changes():
    now = figures(hit1=88.5, searched=500, offtopic_asked=50, load_1m_mean=3.2, load_1m_max=5.0)
    plain = lang_table("en", now, "defaults", None)
    assert "| hit@1 | 88.5 |" in plain and "### en — defaults" in plain
    compared = lang_table("en", now, "defaults", figures())
    assert "| hit@1 | 88.5 | 90.0 | -1.5 | **regressed** (> 1) |" in compared
    assert "| first token p50 | 4.00 s | 4.00 s | 1.00x |  |" in compared
    table_lines = [line for line in compared.splitlines() if line.startswith("|")]
    assert len(table_lines) == len(ROWS) + 2  # a row per metric, header and rule


def test_env_pairs_get_the_prefix_and_read_files(tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("{context}\n{question}", encoding="utf-8")
    env = parse_env(["VECTOR_SEARCH_TOP_K=3", f"ZHIKU_PROMPT_TEMPLATE=@{prompt}"])
    assert env == {
        "ZHIKU_VECTOR_SEARCH_TOP_K": "3",
        "ZHIKU_PROMPT_TEMPLATE": "{context}\n{question}",
    }


def test_english_off_topic_questions_are_fifty_and_well_formed():
    rows = [json.loads(line) for line in EN_OFFTOPIC.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 50 and len({r["question"] for r in rows}) == 50
    assert all(set(r) == {"id", "question", "answers", "about"} for r in rows)
    assert all(r["answers"] == [] for r in rows)
