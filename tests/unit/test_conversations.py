"""The conversation store (real SQLite files under tmp_path) and the service that keeps chat
turns in it: owners, limits, concurrent writers, a restart, an old or broken file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from rag.chains import ChatEvent, Source
from rag.conversations import (
    DB_NAME,
    ConversationStore,
    StoredMessage,
    StoreLimits,
    conversation_markdown,
    title_of,
)
from rag.conversations.schema import SCHEMA_VERSION
from rag.conversations.store import new_id
from rag.errors import (
    BadRequestError,
    ConfigError,
    ConversationLimitError,
    ConversationNotFoundError,
    InputTooLongError,
)
from rag.services.conversations import CUT_NOTE, ConversationService, session_owner

ALICE, BOB = "owner-alice", "owner-bob"
SOURCE = Source(1, "星河科技.md", 2, "星河科技公司成立于1987年，总部位于杭州。", 0.83)


def turn(question: str, answer: str, kb: str | None = "库") -> list[StoredMessage]:
    return [
        StoredMessage("user", question, kb=kb),
        StoredMessage("assistant", answer, (SOURCE.as_dict(),), "星河科技成立于哪年？", kb),
    ]


@pytest.fixture
def store(tmp_path: Path):
    store = ConversationStore(tmp_path)
    yield store
    store.close()


def test_a_conversation_round_trip_with_sources(store):
    info = store.create(ALICE, "  第一个\n问题 ", "库")
    assert info.title == "第一个 问题" and info.messages == 0
    store.append(ALICE, info.id, turn("它哪年成立？", "1987年 [1]"))
    got = store.get(ALICE, info.id)
    assert [m.role for m in got.messages] == ["user", "assistant"]
    assert got.messages[1].sources == (SOURCE.as_dict(),)
    assert got.messages[1].rewritten == "星河科技成立于哪年？"
    assert got.history() == [("它哪年成立？", "1987年 [1]")]
    renamed = store.rename(ALICE, info.id, "星河")
    assert renamed.title == "星河" and renamed.messages == 2
    store.delete(ALICE, info.id)
    with pytest.raises(ConversationNotFoundError):
        store.get(ALICE, info.id)
    assert store._read("SELECT COUNT(*) FROM messages", ())[0][0] == 0


def test_the_newest_is_listed_first(store):
    first = store.create(ALICE, "one")
    second = store.create(ALICE, "two")
    assert [c.id for c in store.list_conversations(ALICE)] == [second.id, first.id]
    store.append(ALICE, first.id, turn("q", "a"))
    assert [c.id for c in store.list_conversations(ALICE)] == [first.id, second.id]


def test_another_owners_conversation_is_not_found(store):
    mine = store.create(ALICE, "mine")
    assert store.list_conversations(BOB) == []
    for act in (
        lambda: store.get(BOB, mine.id),
        lambda: store.rename(BOB, mine.id, "taken"),
        lambda: store.delete(BOB, mine.id),
        lambda: store.append(BOB, mine.id, turn("q", "a")),
        lambda: store.check_room(BOB, mine.id),
    ):
        with pytest.raises(ConversationNotFoundError):
            act()
    assert store.get(ALICE, mine.id).info.title == "mine"
    assert store.get(ALICE, mine.id).messages == ()


def test_limits_are_clear_errors(tmp_path):
    store = ConversationStore(
        tmp_path, StoreLimits(max_conversations=2, max_turns=1, max_message_chars=10)
    )
    first = store.create(ALICE, "a")
    store.create(ALICE, "b")
    with pytest.raises(ConversationLimitError, match="MAX_CONVERSATIONS"):
        store.create(ALICE, "c")
    store.create(BOB, "the limit is per owner")
    store.append(ALICE, first.id, turn("q", "a"))
    with pytest.raises(ConversationLimitError, match="MAX_CONVERSATION_TURNS"):
        store.append(ALICE, first.id, turn("q2", "a2"))
    with pytest.raises(InputTooLongError, match="MAX_MESSAGE_CHARS"):
        store.check_message("x" * 11)
    with pytest.raises(BadRequestError, match="empty"):
        store.rename(ALICE, first.id, "  \n ")
    with pytest.raises(InputTooLongError, match="200"):
        store.rename(ALICE, first.id, "长" * 201)
    assert store.get(ALICE, first.id).info.title == "a"


def test_concurrent_writers_lose_nothing(tmp_path):
    """Threads of one store and a second store on the same file (as a second process
    would open it) write at once: every message is kept, in order per conversation."""
    stores = [ConversationStore(tmp_path), ConversationStore(tmp_path)]
    ids = [stores[0].create(ALICE, f"c{i}").id for i in range(6)]
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            for n in range(15):
                stores[index % 2].append(ALICE, ids[index], turn(f"q{n}", f"a{n}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for conversation_id in ids:
        history = stores[1].get(ALICE, conversation_id).history()
        assert history == [(f"q{n}", f"a{n}") for n in range(15)]
    for store in stores:
        store.close()


def test_concurrent_creates_respect_the_limit(tmp_path):
    """Two stores on one file (two processes) create at once: the count-then-insert of the
    limit is one transaction, so exactly the allowed number is made."""
    limits = StoreLimits(max_conversations=5)
    stores = [ConversationStore(tmp_path, limits), ConversationStore(tmp_path, limits)]
    refused: list[ConversationLimitError] = []
    errors: list[BaseException] = []

    def create(index: int) -> None:
        try:
            stores[index % 2].create(ALICE, "race")
        except ConversationLimitError as exc:
            refused.append(exc)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(stores[0].list_conversations(ALICE)) == 5 and len(refused) == 7
    for store in stores:
        store.close()


def test_everything_is_there_after_a_restart(tmp_path):
    store = ConversationStore(tmp_path)
    info = store.create(ALICE, "before", "库")
    store.append(ALICE, info.id, turn("q", "a"))
    secret = store.secret("browser")
    store.close()
    reopened = ConversationStore(tmp_path)
    assert reopened.get(ALICE, info.id).history() == [("q", "a")]
    assert reopened.list_conversations(ALICE)[0].kb == "库"
    assert reopened.secret("browser") == secret and len(secret) >= 24
    reopened.close()


def test_the_schema_is_versioned(tmp_path):
    ConversationStore(tmp_path).close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="newer zhiku"):
        ConversationStore(tmp_path)


def test_a_broken_file_is_moved_aside_not_lost(tmp_path):
    (tmp_path / DB_NAME).write_bytes(b"not a database at all " * 100)
    store = ConversationStore(tmp_path)
    assert store.list_conversations(ALICE) == []
    [aside] = tmp_path.glob(f"{DB_NAME}.corrupt-*")
    assert aside.read_bytes().startswith(b"not a database")
    store.close()


def test_title_of_a_long_question_is_cut():
    assert title_of("短问题") == "短问题"
    title = title_of("很长的问题" * 30)
    assert len(title) == 60 and title.endswith("…")


def test_markdown_export_has_sources_in_the_conversations_language(store):
    info = store.create(ALICE, "星河科技")
    store.append(ALICE, info.id, turn("星河科技哪年成立？", "1987年 [1]"))
    text = conversation_markdown(store.get(ALICE, info.id))
    assert text.startswith("# 星河科技\n")
    assert "## 问题 1\n\n星河科技哪年成立？" in text and "### 回答\n\n1987年 [1]" in text
    assert "- [1] **星河科技.md**，第 2 页，相关度 0.83\n  > 星河科技公司成立于1987年" in text
    assert "*检索问题: 星河科技成立于哪年？*" in text
    english = store.create(ALICE, "Zephyr")
    store.append(ALICE, english.id, turn("When was it founded?", "In 1962 [1]."))
    text = conversation_markdown(store.get(ALICE, english.id))
    assert "## Question 1" in text and "page 2, relevance 0.83" in text


# ---- the service: chat turns kept ---------------------------------------------------------


class ScriptedChat:
    """Answers with the given events; records the history it was given."""

    def __init__(self, events: list[ChatEvent], fail: Exception | None = None) -> None:
        self.events = events
        self.fail = fail
        self.histories: list[list[tuple[str, str]]] = []

    def __call__(self, question, kb, history):
        self.histories.append(list(history))
        if self.fail:
            raise self.fail
        yield from self.events


ANSWER = [
    ChatEvent("rewritten", text="星河科技成立于哪年？"),
    ChatEvent("sources", sources=[SOURCE]),
    ChatEvent("token", text="1987"),
    ChatEvent("token", text="年 [1]"),
]


def test_turns_are_kept_and_the_history_comes_from_the_store(store):
    chat = ScriptedChat(ANSWER)
    service = ConversationService(store, chat)
    first = service.chat(ALICE, None, "星河科技哪年成立？", "库")
    assert list(first.events) == ANSWER and first.new and first.kept
    second = service.chat(ALICE, first.conversation_id, "它在哪？", "库")
    list(second.events)
    assert chat.histories == [[], [("星河科技哪年成立？", "1987年 [1]")]]
    conversation = service.get(ALICE, first.conversation_id)
    assert conversation.info.title == "星河科技哪年成立？"
    assert conversation.messages[1].sources == (SOURCE.as_dict(),)
    assert [c.id for c in service.list(BOB)] == []


def test_a_failed_turn_keeps_nothing(store):
    service = ConversationService(store, ScriptedChat([], fail=InputTooLongError("history")))
    turn_ = service.chat(ALICE, None, "问题", None)
    with pytest.raises(InputTooLongError):
        next(turn_.events)
    assert not turn_.kept and service.list(ALICE) == []


def test_a_stopped_answer_keeps_what_was_said(store):
    service = ConversationService(store, ScriptedChat(ANSWER))
    stopped = service.chat(ALICE, None, "问题", "库")
    events = stopped.events
    while next(events).kind != "token":
        pass
    events.close()  # type: ignore[attr-defined]
    assert stopped.kept
    assert service.get(ALICE, stopped.conversation_id).history() == [("问题", "1987")]
    silent = service.chat(ALICE, None, "另一个", "库")
    next(silent.events)
    silent.events.close()  # type: ignore[attr-defined]
    assert not silent.kept and len(service.list(ALICE)) == 1


def test_a_question_that_cannot_be_kept_is_refused_before_the_model_runs(tmp_path):
    store = ConversationStore(tmp_path, StoreLimits(max_conversations=1, max_message_chars=100))
    chat = ScriptedChat([ChatEvent("token", text="长" * 150)])
    service = ConversationService(store, chat)
    with pytest.raises(InputTooLongError):
        service.chat(ALICE, None, "问" * 101, None)
    kept = service.chat(ALICE, None, "问题", None)
    list(kept.events)
    answer = service.get(ALICE, kept.conversation_id).messages[1].text
    assert len(answer) == 100 and answer.endswith(CUT_NOTE)
    with pytest.raises(ConversationLimitError):
        service.chat(ALICE, None, "再来一个", None)
    with pytest.raises(ConversationNotFoundError):
        service.chat(ALICE, new_id(), "不存在", None)
    assert len(chat.histories) == 1


@pytest.mark.parametrize(
    "session", ["short", "x" * 129, "has space in it 1234", "../../etc/passwd-x"]
)
def test_a_session_id_must_look_random(session):
    with pytest.raises(BadRequestError, match="16 to 128"):
        session_owner(session)


def test_session_owners_are_hashed_apart():
    one, other = "a" * 16, "b" * 16
    assert session_owner(one) != session_owner(other)
    assert one not in session_owner(one) and len(session_owner(one)) == 64
