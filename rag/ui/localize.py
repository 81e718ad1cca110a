"""Which language a page is in, and relabelling every component when it changes.

The language of a request: the `zhiku-lang` cookie the language switch sets, else the
browser's Accept-Language (`browser_lang`). Handlers read it from their `gr.Request`, so
their status lines and errors follow the page without an extra input (and the UI's
endpoints keep their inputs).

A `Localizer` collects, while the UI is built, which property of which component shows
which message (`loc(gr.Button(), value="chat.send")`); `updates(lang)` is then one
`gr.update` per component, for the page load and the language switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, cast

import gradio as gr
from gradio.blocks import Block

from rag.errors import ZhikuError
from rag.ui.messages import MESSAGES, Lang, as_lang, browser_lang, text

LANG_COOKIE = "zhiku-lang"
"""Set by the language switch (a year): the language a browser chose."""
GRADIO_LOCALES = {"zh": "zh-CN", "en": "en"}
_GRADIO_LOCALE_JS = (
    "const url = performance.getEntriesByType('resource').map((e) => e.name)"
    ".find((n) => /\\/assets\\/core-[^/]*\\.js$/.test(n));"
    "if (url) { try { (await import(url)).changeLocale("
    f"{{'zh': '{GRADIO_LOCALES['zh']}', 'en': '{GRADIO_LOCALES['en']}'}}[inputs[0]]); "
    "} catch (e) { console.warn('zhiku: Gradio locale not changed', e); } }"
)
SET_LANG_JS = (
    "async (...inputs) => { document.cookie = "
    f"'{LANG_COOKIE}=' + inputs[0] + '; path=/; max-age=31536000; SameSite=Lax'; "
    f"{_GRADIO_LOCALE_JS} return inputs.length === 1 ? inputs[0] : inputs; }}"
)
"""Run in the page before the switch's handler (its first input: the language chosen): the
handlers after it see the cookie. It also switches the texts Gradio writes itself ("Drop
File Here", "Filter…") through Gradio's own `changeLocale`, found in its `core-*.js` module
(the one its settings panel uses; when a Gradio version moves it, those few texts stay in the
browser's language and the console says so)."""
GRADIO_LOCALE_JS = f"async (...inputs) => {{ {_GRADIO_LOCALE_JS} return inputs[0]; }}"
"""Gradio's own texts in the language given (after the page load has chosen it)."""

B = TypeVar("B", bound=Block)


def request_lang(request: gr.Request | None) -> Lang:
    """The language of the page that sent `request` (module doc); the default without one."""
    if request is None:
        return as_lang(None)
    cookies = getattr(request, "cookies", None) or {}
    chosen = cookies.get(LANG_COOKIE)
    if chosen:
        return as_lang(chosen)
    headers = getattr(request, "headers", None) or {}
    return browser_lang(headers.get("accept-language"))


@dataclass(frozen=True)
class Binding:
    """`component`'s `prop` shows message `key`."""

    component: Block
    prop: str
    key: str


class Localizer:
    """The components whose texts come from the message table (module doc)."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        """The language the UI is built in (the page switches once loaded)."""
        self.bindings: list[Binding] = []

    def __call__(self, component: B, **props: str) -> B:
        """Show message `key` as `component`'s property, for each `prop=key`; `component`."""
        for prop, key in props.items():
            setattr(component, prop, text(key, self.lang))
            self.bindings.append(Binding(component, prop, key))
        return component

    def text(self, key: str, **fields: object) -> str:
        return text(key, self.lang, **fields)

    @property
    def components(self) -> list[Block]:
        """Each bound component once, in the order of `updates`."""
        return list(dict.fromkeys(binding.component for binding in self.bindings))

    def updates(self, lang: Lang) -> dict[Block, dict[str, Any]]:
        """An update (`gr.update`) for each of `components`, its texts in `lang`."""
        props: dict[Block, dict[str, str]] = {c: {} for c in self.components}
        for binding in self.bindings:
            props[binding.component][binding.prop] = text(binding.key, lang)
        update = cast(Any, gr.update)  # typed for its own keywords only
        return {component: update(**changes) for component, changes in props.items()}


def error_text(exc: ZhikuError, lang: Lang) -> str:
    """An error as the UI shows it: what kind of failure, in `lang`, then the error's own
    message (written in English by the code that raised it, with the names and the fix);
    in English the message alone says both."""
    return error_line(type(exc), str(exc), lang)


def error_line(kind: type[ZhikuError] | None, detail: str, lang: Lang) -> str:
    """`error_text` for an error known by its class and message (a file's result)."""
    if lang == "en":
        return detail
    # the nearest class the table names (every ZhikuError has at least the base's)
    keys = (f"error.{cls.__name__}" for cls in (kind or ZhikuError).__mro__)
    summary = text(next((k for k in keys if k in MESSAGES), "error.ZhikuError"), lang)
    return f"{summary}。{text('error.detail', lang)}{detail}"


__all__ = [
    "GRADIO_LOCALE_JS",
    "LANG_COOKIE",
    "SET_LANG_JS",
    "Binding",
    "Localizer",
    "error_line",
    "error_text",
    "request_lang",
]
