"""The conversations side panel of the chat tab: the user's stored conversations, newest first;
click one to reopen it (answers with their sources), rename, delete, export as Markdown, start
a new one. Every question asked in the chat is kept in the current conversation.

Whose conversations: the login's user name when the UI has a login, else a random session id
the browser keeps (`gr.BrowserState`, in its localStorage). The current conversation's id is
kept there too, so a reload of the page reopens it. Nothing is kept in this module: the chat
shown belongs to the page, the conversation to the store.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.chains import ChatEvent, Source
from rag.conversations import Conversation, export_file_name
from rag.errors import BadRequestError, ZhikuError
from rag.services import ConversationService, Services, TurnRecord, owner_key, session_owner
from rag.ui.chat_actions import AnswerView
from rag.ui.common import PLAIN_CHAT
from rag.ui.render import answer_markdown

LABELS: dict[str, dict[str, str]] = {
    "panel": {"zh": "对话记录", "en": "Conversations"},
    "new": {"zh": "新对话", "en": "New conversation"},
    "list": {"zh": "对话", "en": "Conversations"},
    "empty": {"zh": "还没有保存的对话", "en": "No conversations yet"},
    "title": {"zh": "标题", "en": "Title"},
    "rename": {"zh": "重命名", "en": "Rename"},
    "delete": {"zh": "删除", "en": "Delete"},
    "confirm": {"zh": "删除这个对话？", "en": "Delete this conversation?"},
    "yes": {"zh": "确定删除", "en": "Delete it"},
    "no": {"zh": "取消", "en": "Cancel"},
    "export": {"zh": "导出", "en": "Export Markdown"},
    "none": {"zh": "先选一个对话", "en": "choose a conversation first"},
}
"""The panel's labels in each UI language (for the UI's message table)."""

EXPORTS_DIR = "exports"
"""Under Gradio's upload folder: the Markdown files offered for download."""


def label(key: str) -> str:
    """A label as the UI shows labels today: Chinese, then English."""
    text = LABELS[key]
    return f"{text['zh']} {text['en']}"


def ui_owner(session: str | None, request: gr.Request | None) -> str:
    """The login's user, else the browser's session (BadRequestError for a missing or made-up
    one: the page sets it when it loads)."""
    username = getattr(request, "username", None) if request is not None else None
    if username:
        return owner_key("user", str(username))
    return session_owner(session or "")


def chat_messages(conversation: Conversation) -> list[dict[str, Any]]:
    """The chatbot's messages for a stored conversation: answers as they were shown, with
    their source cards (which open in the source viewer again)."""
    messages: list[dict[str, Any]] = []
    for message in conversation.messages:
        if message.role != "assistant":
            messages.append({"role": message.role, "content": answer_markdown(message.text)})
            continue
        view = AnswerView(message.kb, text=message.text, rewritten=message.rewritten or "")
        view.sources = [Source(**source) for source in message.sources]
        messages.append({"role": "assistant", "content": view.content(done=True)})
    return messages


class TurnChat:
    """What `stream_reply` asks: the question answered in the current conversation (its
    history read from the store, not from the page). Who asks is worked out when the
    question is, so that a bad session shows as the answer's warning."""

    def __init__(
        self,
        conversations: ConversationService,
        session: str | None,
        current: str | None,
        request: gr.Request | None,
    ) -> None:
        self.conversations = conversations
        self.session = session
        self.current = current
        self.request = request
        self.turn: TurnRecord | None = None
        """Only the record: holding the turn's events here would keep them open after the
        page's handler is closed (Stop), and the stopped answer unkept."""

    def chat(self, question: str, kb: str | None, history: object) -> Iterator[ChatEvent]:
        owner = ui_owner(self.session, self.request)
        if self.current is not None and not self.conversations.exists(owner, self.current):
            self.current = None  # deleted meanwhile (another tab): the question starts anew
        turn = self.conversations.chat(owner, self.current, question, kb)
        self.turn = turn.record
        return turn.events

    def conversation_id(self) -> str | None:
        """The conversation the page shows: the turn's from its start, so that an answer
        stopped half-way (and kept so) is continued by the next question. A new one whose
        turn failed is never stored: the next question finds it missing and starts anew."""
        return self.turn.conversation_id if self.turn is not None else self.current


@dataclass
class PanelView:
    """What the panel shows: the owner's conversations and the current one."""

    current: str | None
    choices: list[tuple[str, str]]
    title: str
    export: str | None

    def outputs(self) -> tuple[Any, ...]:
        """(current, list, title, export) as Gradio updates."""
        return (
            self.current,
            gr.update(choices=self.choices, value=self.current, label=_list_label(self.choices)),
            self.title,
            gr.update(value=self.export, interactive=self.export is not None),
        )


def _list_label(choices: list[tuple[str, str]]) -> str:
    return label("list") if choices else f"{label('list')} · {label('empty')}"


class ConversationsPanel:
    """The side panel's components (made when this is made, inside the chat tab's Blocks)
    and its handlers."""

    def __init__(self, services: Services, upload_dir: Path) -> None:
        self.conversations = services.conversations
        self._kb_names = lambda: [summary.name for summary in services.kb.list_kbs()]
        self.exports = upload_dir / EXPORTS_DIR
        # one key for every start: a browser keeps its session (and conversations) across
        # restarts of the app
        secret = self.conversations.browser_secret()
        self.session = gr.BrowserState(None, storage_key="zhiku-session", secret=secret)
        self.current = gr.BrowserState(None, storage_key="zhiku-conversation", secret=secret)
        # closed at first: open, it covers the chat's left side (the source viewer takes the
        # right), and its arrow is always there
        with gr.Sidebar(label=label("panel"), elem_id="conversations", width=300, open=False):
            self.new = gr.Button(label("new"), variant="primary", elem_id="new-conversation")
            self.list = gr.Radio(choices=[], label=_list_label([]), elem_id="conversation-list")
            self.title = gr.Textbox(label=label("title"), max_lines=1, elem_id="conversation-title")
            with gr.Row():
                self.rename = gr.Button(
                    label("rename"), size="sm", min_width=80, elem_id="rename-conversation"
                )
                self.delete = gr.Button(
                    label("delete"),
                    size="sm",
                    variant="stop",
                    min_width=80,
                    elem_id="delete-conversation",
                )
            with gr.Group(visible=False) as self.confirm:
                gr.Markdown(label("confirm"), elem_id="confirm-question")
                with gr.Row():
                    self.yes = gr.Button(
                        label("yes"),
                        size="sm",
                        variant="stop",
                        min_width=80,
                        elem_id="confirm-delete",
                    )
                    self.no = gr.Button(
                        label("no"), size="sm", min_width=80, elem_id="cancel-delete"
                    )
            self.export = gr.DownloadButton(
                label("export"), size="sm", interactive=False, elem_id="export-conversation"
            )

    @property
    def panel_outputs(self) -> list[Any]:
        return [self.current, self.list, self.title, self.export]

    def wire(self, ui: gr.Blocks, chatbot: gr.Chatbot, kb: gr.Dropdown, clear: gr.Button) -> None:
        """The panel's events (`ui`: the page, for its load); `clear` starts a new
        conversation too."""
        ui.load(
            self.on_load, [self.session, self.current], [self.session, *self.panel_outputs, chatbot]
        )
        self.list.input(self.on_open, [self.session, self.list], [*self.panel_outputs, chatbot, kb])
        # the chatbot's own bin empties the page: the next question starts a new conversation
        for event in (self.new.click, clear.click, chatbot.clear):
            event(self.on_new, [self.session], [*self.panel_outputs, chatbot])
        self.rename.click(
            self.on_rename, [self.session, self.current, self.title], self.panel_outputs
        )
        self.delete.click(lambda: gr.update(visible=True), outputs=self.confirm)
        self.no.click(lambda: gr.update(visible=False), outputs=self.confirm)
        self.yes.click(
            self.on_delete,
            [self.session, self.current],
            [*self.panel_outputs, chatbot, self.confirm],
        )

    def asker(
        self, session: str | None, current: str | None, request: gr.Request | None
    ) -> TurnChat:
        """The chat `stream_reply` asks for one question of this page."""
        return TurnChat(self.conversations, session, current, request)

    # ---- handlers -----------------------------------------------------------------------

    def on_load(
        self, session: str | None, current: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        """A page (re)loaded: its session made if it has none, its conversation reopened."""
        try:
            session_owner(session or "")
        except ZhikuError:
            session = secrets.token_urlsafe(24)
        owner = ui_owner(session, request)
        view = self.view(owner, current)
        shown = chat_messages(self.conversations.get(owner, view.current)) if view.current else []
        return (session, *view.outputs(), shown)

    def on_open(
        self, session: str | None, chosen: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        """A conversation clicked in the list: shown, its knowledge base chosen again."""
        try:
            owner = ui_owner(session, request)
            conversation = self.conversations.get(owner, chosen or "")
        except ZhikuError as exc:
            gr.Warning(str(exc))
            return (*self.view_for(session, None, request).outputs(), [], gr.update())
        view = self.view(owner, conversation.info.id)
        return (*view.outputs(), chat_messages(conversation), self._kb_choice(conversation.info.kb))

    def on_new(self, session: str | None, request: gr.Request) -> tuple[Any, ...]:
        return (*self.view_for(session, None, request).outputs(), [])

    def on_rename(
        self, session: str | None, current: str | None, title: str, request: gr.Request
    ) -> tuple[Any, ...]:
        try:
            if not current:
                raise BadRequestError(label("none"))
            self.conversations.rename(ui_owner(session, request), current, title)
        except ZhikuError as exc:
            gr.Warning(str(exc))
        return self.view_for(session, current, request).outputs()

    def on_delete(
        self, session: str | None, current: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        try:
            if current:
                self.conversations.delete(ui_owner(session, request), current)
                shutil.rmtree(self.exports / current, ignore_errors=True)
        except ZhikuError as exc:
            gr.Warning(str(exc))
        view = self.view_for(session, None, request)
        return (*view.outputs(), [], gr.update(visible=False))

    def on_answered(
        self, session: str | None, current: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        """After an answer: the list (a new conversation on top), title and export."""
        return self.view_for(session, current, request).outputs()

    # ---- what is shown ------------------------------------------------------------------

    def view_for(
        self, session: str | None, current: str | None, request: gr.Request | None
    ) -> PanelView:
        try:
            return self.view(ui_owner(session, request), current)
        except ZhikuError:  # no session yet: the page has not finished loading
            return PanelView(None, [], "", None)

    def view(self, owner: str, current: str | None) -> PanelView:
        infos = self.conversations.list(owner)
        shown = next((info for info in infos if info.id == current), None)
        return PanelView(
            current=shown.id if shown else None,
            choices=[(info.title, info.id) for info in infos],
            title=shown.title if shown else "",
            export=self._export_file(owner, shown.id) if shown else None,
        )

    def _export_file(self, owner: str, conversation_id: str) -> str:
        """The conversation's Markdown, written where the download button can offer it."""
        title, text = self.conversations.export(owner, conversation_id)
        folder = self.exports / conversation_id  # ids are random: one folder per conversation
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        path = folder / export_file_name(title)
        path.write_text(text, encoding="utf-8")
        return str(path)

    def _kb_choice(self, kb: str | None) -> Any:
        """The chat's KB picker set to the conversation's KB, if it still exists."""
        if kb is None:
            return gr.update(value=PLAIN_CHAT)
        return gr.update(value=kb) if kb in self._kb_names() else gr.update()
