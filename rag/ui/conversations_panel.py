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
from rag.ui.localize import Localizer, error_text, request_lang
from rag.ui.messages import DEFAULT_LANG, Lang, text
from rag.ui.render import answer_markdown

EXPORTS_DIR = "exports"
"""Under Gradio's upload folder: the Markdown files offered for download."""


def ui_owner(session: str | None, request: gr.Request | None) -> str:
    """The login's user, else the browser's session (BadRequestError for a missing or made-up
    one: the page sets it when it loads)."""
    username = getattr(request, "username", None) if request is not None else None
    if username:
        return owner_key("user", str(username))
    return session_owner(session or "")


def chat_messages(conversation: Conversation, lang: Lang = DEFAULT_LANG) -> list[dict[str, Any]]:
    """The chatbot's messages for a stored conversation: answers as they were shown, with
    their source cards (which open in the source viewer again), labelled in `lang`."""
    messages: list[dict[str, Any]] = []
    for message in conversation.messages:
        if message.role != "assistant":
            messages.append({"role": message.role, "content": answer_markdown(message.text)})
            continue
        view = AnswerView(
            message.kb, text=message.text, rewritten=message.rewritten or "", lang=lang
        )
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
    lang: Lang = DEFAULT_LANG

    def outputs(self) -> tuple[Any, ...]:
        """(current, list, title, export) as Gradio updates."""
        empty = "" if self.choices else text("conv.empty", self.lang)
        return (
            self.current,
            gr.update(choices=self.choices, value=self.current, info=empty),
            self.title,
            gr.update(value=self.export, interactive=self.export is not None),
        )


class ConversationsPanel:
    """The side panel's components (made when this is made, inside the chat tab's Blocks)
    and its handlers."""

    def __init__(self, services: Services, upload_dir: Path, loc: Localizer) -> None:
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
        sidebar = gr.Sidebar(elem_id="conversations", width=300, open=False)
        with loc(sidebar, label="conv.panel"):
            self._layout(loc)

    def _layout(self, loc: Localizer) -> None:
        """The panel's components (inside its sidebar)."""
        small: dict[str, Any] = {"size": "sm", "min_width": 80}
        self.new = loc(gr.Button(variant="primary", elem_id="new-conversation"), value="conv.new")
        # the list's label is relabelled; its note that it is empty is the handlers'
        empty = text("conv.empty", loc.lang)
        self.list = loc(
            gr.Radio(choices=[], info=empty, elem_id="conversation-list"), label="conv.list"
        )
        self.title = loc(gr.Textbox(max_lines=1, elem_id="conversation-title"), label="conv.title")
        with gr.Row():
            self.rename = loc(
                gr.Button(elem_id="rename-conversation", **small), value="conv.rename"
            )
            self.delete = loc(
                gr.Button(variant="stop", elem_id="delete-conversation", **small),
                value="conv.delete",
            )
        with gr.Group(visible=False) as self.confirm:
            loc(gr.Markdown(elem_id="confirm-question"), value="conv.confirm")
            with gr.Row():
                self.yes = loc(
                    gr.Button(variant="stop", elem_id="confirm-delete", **small), value="conv.yes"
                )
                self.no = loc(gr.Button(elem_id="cancel-delete", **small), value="conv.no")
        self.export = loc(
            gr.DownloadButton(size="sm", interactive=False, elem_id="export-conversation"),
            label="conv.export",
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
        owner, lang = ui_owner(session, request), request_lang(request)
        view = self.view(owner, current, lang)
        conversation = self.conversations.get(owner, view.current) if view.current else None
        shown = chat_messages(conversation, lang) if conversation else []
        return (session, *view.outputs(), shown)

    def on_open(
        self, session: str | None, chosen: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        """A conversation clicked in the list: shown, its knowledge base chosen again."""
        lang = request_lang(request)
        try:
            owner = ui_owner(session, request)
            conversation = self.conversations.get(owner, chosen or "")
        except ZhikuError as exc:
            gr.Warning(error_text(exc, lang))
            return (*self.view_for(session, None, request).outputs(), [], gr.update())
        view = self.view(owner, conversation.info.id, lang)
        shown = chat_messages(conversation, lang)
        return (*view.outputs(), shown, self._kb_choice(conversation.info.kb))

    def on_new(self, session: str | None, request: gr.Request) -> tuple[Any, ...]:
        return (*self.view_for(session, None, request).outputs(), [])

    def on_rename(
        self, session: str | None, current: str | None, title: str, request: gr.Request
    ) -> tuple[Any, ...]:
        try:
            if not current:
                raise BadRequestError(text("conv.none", request_lang(request)))
            self.conversations.rename(ui_owner(session, request), current, title)
        except ZhikuError as exc:
            gr.Warning(error_text(exc, request_lang(request)))
        return self.view_for(session, current, request).outputs()

    def on_delete(
        self, session: str | None, current: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        try:
            if current:
                self.conversations.delete(ui_owner(session, request), current)
                shutil.rmtree(self.exports / current, ignore_errors=True)
        except ZhikuError as exc:
            gr.Warning(error_text(exc, request_lang(request)))
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
        lang = request_lang(request)
        try:
            return self.view(ui_owner(session, request), current, lang)
        except ZhikuError:  # no session yet: the page has not finished loading
            return PanelView(None, [], "", None, lang)

    def view(self, owner: str, current: str | None, lang: Lang = DEFAULT_LANG) -> PanelView:
        infos = self.conversations.list(owner)
        shown = next((info for info in infos if info.id == current), None)
        return PanelView(
            current=shown.id if shown else None,
            choices=[(info.title, info.id) for info in infos],
            title=shown.title if shown else "",
            export=self._export_file(owner, shown.id) if shown else None,
            lang=lang,
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
