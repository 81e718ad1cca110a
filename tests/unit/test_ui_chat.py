"""The chat panel's handler with a fake service: what the user sees while an answer comes."""

from __future__ import annotations

from types import SimpleNamespace

from rag.chains import ChatEvent, Source
from rag.errors import InputTooLongError
from rag.ui.chat_tab import history_pairs, stream_reply
from rag.ui.render import SOURCES_MARK, plain_answer


class ScriptedServices:
    """Answers every question with the same events."""

    def __init__(self, events: list[ChatEvent]) -> None:
        self.events = events
        self.asked: list[tuple[str, str | None]] = []
        self.kb = SimpleNamespace(query_terms=lambda text: [])

    def chat(self, question, kb, history):
        self.asked.append((question, kb))
        return iter(self.events)


def shown_answers(services, question="港口是第幾大？") -> list[str]:
    """The answer's text as the chat shows it (Markdown escapes undone), sources included."""
    return [
        plain_answer(messages[-1]["content"]) + sources_part(messages[-1]["content"])
        for messages, _ in stream_reply(services, question, [], "kb")
    ]


def sources_part(content: str) -> str:
    return SOURCES_MARK + content.split(SOURCES_MARK, 1)[1] if SOURCES_MARK in content else ""


def answer_of(shown: str) -> str:
    """The answer without the block under it (sources, tools)."""
    return shown.split(SOURCES_MARK, 1)[0]


def test_a_replace_event_replaces_the_text_shown_so_far():
    source = Source(1, "port.md", None, "史特拉斯堡港是第二大港口。", 0.9)
    events = [
        ChatEvent("sources", sources=[source]),
        ChatEvent("token", text="港口是"),
        ChatEvent("token", text="第幾大？[1]"),
        ChatEvent("replace"),
        ChatEvent("token", text="第二大 [1]"),
    ]
    shown = shown_answers(ScriptedServices(events))
    # the first try was streamed as it came
    assert "港口是第幾大？[1]" in [answer_of(text) for text in shown]
    final = shown[-1]
    assert final.startswith("第二大 [1]" + SOURCES_MARK) and "port.md" in final
    assert "第幾大？[1]" not in final


def test_tokens_accumulate_without_a_replace_event():
    events = [ChatEvent("sources"), ChatEvent("token", text="第二"), ChatEvent("token", text="大")]
    assert answer_of(shown_answers(ScriptedServices(events))[-1]) == "第二大"


def test_a_replace_event_may_bring_text_of_its_own():
    events = [
        ChatEvent("sources"),
        ChatEvent("token", text="第幾大？"),
        ChatEvent("replace", text="第"),
        ChatEvent("token", text="二大"),
    ]
    assert answer_of(shown_answers(ScriptedServices(events))[-1]) == "第二大"


def test_a_question_that_failed_is_not_read_as_history():
    messages = [
        {"role": "user", "content": "太长的问题"},
        {"role": "assistant", "content": "⚠️ question is longer than MAX_QUERY_CHARS"},
        {"role": "user", "content": "港口是第幾大？"},
        {"role": "assistant", "content": "第二大 \\[1\\]"},
    ]
    assert history_pairs(messages) == [("港口是第幾大？", "第二大 [1]")]


class FailingServices:
    def chat(self, question, kb, history):
        raise InputTooLongError("question is longer than MAX_QUERY_CHARS (2000); shorten it")


def test_an_error_is_told_in_the_questions_language():
    [*_, (chinese, _)] = stream_reply(FailingServices(), "港口是第幾大？", [], "kb", lang="en")
    assert plain_answer(chinese[-1]["content"]).startswith("⚠️ 输入太长。")
    [*_, (english, _)] = stream_reply(FailingServices(), "Which port?", [], "kb", lang="zh")
    shown = plain_answer(english[-1]["content"])
    assert shown == "⚠️ question is longer than MAX_QUERY_CHARS (2000); shorten it"


def test_sources_are_labelled_in_the_pages_language():
    source = Source(1, "port.md", 3, "史特拉斯堡港是第二大港口。", 0.9)
    events = [ChatEvent("sources", sources=[source]), ChatEvent("token", text="第二大 [1]")]
    [*_, (messages, _)] = stream_reply(ScriptedServices(events), "港口？", [], "kb", lang="en")
    content = messages[-1]["content"]
    assert "Sources" in content and "page 3" in content and "来源" not in content
