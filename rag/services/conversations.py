"""`ConversationService`: chat turns kept in stored conversations, per owner.

An owner is a key made from who asks: a browser's random session id, an API client's
`X-Zhiku-Session` header, the UI login's user name, or the API token. Only a hash of it is
stored, so the file does not hold what would let someone act as that owner.

A turn asked in a conversation reads its history from the store (not from the client) and
is kept when the answer ends: question, answer, sources and the standalone question it was
searched as. A turn that fails is not kept (and a new conversation whose first turn fails
is never created); a turn cut short (Stop, a client that went away) keeps what was answered.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rag.chains import ChatEvent
from rag.conversations import (
    Conversation,
    ConversationInfo,
    ConversationStore,
    StoredMessage,
    conversation_markdown,
    title_of,
)
from rag.conversations.store import new_id
from rag.errors import BadRequestError, ConversationNotFoundError, ZhikuError

logger = logging.getLogger(__name__)

ChatFn = Callable[[str, str | None, Sequence[tuple[str, str]]], Iterator[ChatEvent]]
"""(question, kb or None, history) -> answer events: `Services.chat`."""

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,128}")
CUT_NOTE = "\n\n[…] (MAX_MESSAGE_CHARS)"
"""Ends an answer kept cut at MAX_MESSAGE_CHARS."""


def owner_key(kind: str, value: str) -> str:
    """The stored owner: a hash of what kind of identity it is and its value."""
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()


def session_owner(session_id: str) -> str:
    """The owner a browser or API session id names (BadRequestError for one that is not a
    random id: too short to be safe from guessing, or with other characters)."""
    if not SESSION_ID.fullmatch(session_id):
        raise BadRequestError(
            "a session id is 16 to 128 letters, digits, '-' or '_' (make one at random, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )
    return owner_key("session", session_id)


@dataclass
class TurnRecord:
    """Where a turn is kept, and whether it is yet (a new conversation exists from then)."""

    conversation_id: str
    new: bool
    kept: bool = False


@dataclass
class ChatTurn:
    """A question being answered in a conversation. `events` is a generator: its errors
    surface on the first `next()`, as `Services.chat`'s do. The generator shares `record`,
    not this object: nothing it holds refers back to it, so a client that goes away (its
    last reference dropped) closes it at once, freeing the model's queue slot."""

    record: TurnRecord
    events: Iterator[ChatEvent]

    @property
    def conversation_id(self) -> str:
        return self.record.conversation_id

    @property
    def new(self) -> bool:
        return self.record.new

    @property
    def kept(self) -> bool:
        return self.record.kept


@dataclass
class _Answer:
    """The answer so far, as the events give it."""

    text: str = ""
    sources: tuple[dict[str, object], ...] = ()
    rewritten: str | None = None

    def add(self, event: ChatEvent) -> None:
        if event.kind == "sources":
            self.sources = tuple(source.as_dict() for source in event.sources)
        elif event.kind == "rewritten":
            self.rewritten = event.text
        elif event.kind == "replace":
            self.text = event.text
        else:
            self.text += event.text


class ConversationService:
    """Conversations of each owner over `store`; answers come from `chat`."""

    def __init__(self, store: ConversationStore, chat: ChatFn) -> None:
        self.store = store
        self._chat = chat

    def list(self, owner: str) -> list[ConversationInfo]:
        return self.store.list_conversations(owner)

    def get(self, owner: str, conversation_id: str) -> Conversation:
        return self.store.get(owner, conversation_id)

    def exists(self, owner: str, conversation_id: str) -> bool:
        try:
            self.store.info(owner, conversation_id)
        except ConversationNotFoundError:
            return False
        return True

    def rename(self, owner: str, conversation_id: str, title: str) -> ConversationInfo:
        return self.store.rename(owner, conversation_id, title)

    def delete(self, owner: str, conversation_id: str) -> None:
        self.store.delete(owner, conversation_id)

    def export(self, owner: str, conversation_id: str) -> tuple[str, str]:
        """The conversation's title and its Markdown, sources included."""
        conversation = self.store.get(owner, conversation_id)
        return conversation.info.title, conversation_markdown(conversation)

    def browser_secret(self) -> str:
        """The key the browser's copy of its session id is kept under (the same after a
        restart, so a browser keeps its conversations)."""
        return self.store.secret("browser_state_secret")

    def chat(
        self, owner: str, conversation_id: str | None, question: str, kb: str | None
    ) -> ChatTurn:
        """Answer `question` in conversation `conversation_id`, or (None) in a new one.
        A question that could not be kept (too long, too many turns or conversations) is
        refused now, before the model runs."""
        self.store.check_message(question)
        self.store.check_room(owner, conversation_id)
        if conversation_id is None:
            record = TurnRecord(new_id(), new=True)
            history: list[tuple[str, str]] = []
        else:
            record = TurnRecord(conversation_id, new=False)
            history = self.store.get(owner, conversation_id).history()
        events = self._chat(question, kb, history)
        return ChatTurn(record, self._kept(owner, record, question, kb, events))

    def _kept(
        self,
        owner: str,
        turn: TurnRecord,
        question: str,
        kb: str | None,
        events: Iterator[ChatEvent],
    ) -> Iterator[ChatEvent]:
        """`events`, passed on; the turn stored when they end, or when they are closed
        early with some answer given."""
        answer = _Answer()
        try:
            for event in events:
                answer.add(event)
                yield event
        except GeneratorExit:
            close = getattr(events, "close", None)
            if close is not None:
                close()  # free the model now, not when the generator is collected
            if answer.text.strip():
                try:
                    self._keep(owner, turn, question, kb, answer)
                except ZhikuError as exc:  # nobody is left to tell but the log
                    logger.warning("a stopped answer was not kept: %s", exc)
            raise
        self._keep(owner, turn, question, kb, answer)

    def _keep(
        self, owner: str, turn: TurnRecord, question: str, kb: str | None, answer: _Answer
    ) -> None:
        limit = self.store.limits.max_message_chars
        text = answer.text
        if len(text) > limit:
            text = text[: limit - len(CUT_NOTE)] + CUT_NOTE
        messages = [
            StoredMessage("user", question, kb=kb),
            StoredMessage("assistant", text, answer.sources, answer.rewritten, kb),
        ]
        title = title_of(question) if turn.new else None
        self.store.append(owner, turn.conversation_id, messages, title)
        turn.kept = True
