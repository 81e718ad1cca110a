"""The UI's message table and the language switch: every text the built page shows comes
from the table in one language, and the switch relabels every one of them."""

from __future__ import annotations

import html
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rag.errors import InputTooLongError, KnowledgeBaseNotFoundError, ZhikuError
from rag.ui.common import PLAIN_CHAT
from rag.ui.localize import error_line, error_text, request_lang
from rag.ui.messages import LANGS, MESSAGES, browser_lang, text

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
LANGUAGE_NAMES = {"中文", "English"}
"""The language switch names each language in itself, in both languages."""
FIELD = re.compile(r"{(\w*)}")


def test_every_key_has_a_chinese_and_an_english_text_with_the_same_fields():
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGS), key
        zh, en = texts["zh"], texts["en"]
        assert zh.strip() and en.strip(), key
        assert CJK.search(zh), f"{key}: the Chinese text has no Chinese: {zh!r}"
        assert not CJK.search(en), f"{key}: the English text has Chinese: {en!r}"
        assert set(FIELD.findall(zh)) == set(FIELD.findall(en)), key


def test_an_unknown_key_is_an_error_naming_it():
    with pytest.raises(KeyError, match=r"no UI text 'chat\.sned'.*rag/ui/messages\.py"):
        text("chat.sned", "en")
    assert text("upload.done", "en", ok=1, total=2) == "1/2 files indexed"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR,fr;q=0.9,zh-TW;q=0.8,en;q=0.5", "zh"),
        ("en;q=0.4,zh-Hant;q=0.6", "zh"),
        ("de-DE", "en"),
        ("", "zh"),
        (None, "zh"),
    ],
)
def test_the_browser_language_picks_the_first_chinese_or_english_one(header, lang):
    assert browser_lang(header) == lang


def test_the_switch_cookie_wins_over_the_browser_language():
    asked = SimpleNamespace(headers={"accept-language": "en-US"}, cookies={"zhiku-lang": "zh"})
    assert request_lang(asked) == "zh"  # type: ignore[arg-type]
    asked.cookies = {}
    assert request_lang(asked) == "en"  # type: ignore[arg-type]
    asked.cookies = {"zhiku-lang": "fr"}  # not ours: the default
    assert request_lang(asked) == "zh"  # type: ignore[arg-type]


def test_errors_are_told_in_the_language_asked_with_their_own_detail():
    error = KnowledgeBaseNotFoundError("no knowledge base 'x'; create it first")
    assert error_text(error, "en") == "no knowledge base 'x'; create it first"
    zh = error_text(error, "zh")
    assert zh.startswith("知识库不存在。") and zh.endswith("no knowledge base 'x'; create it first")
    # a class the table does not name gets its nearest parent's summary

    class Odd(InputTooLongError):
        pass

    assert error_line(Odd, "d", "zh").startswith("输入太长")
    assert error_line(None, "d", "zh").startswith(text("error.ZhikuError", "zh"))
    for cls in [ZhikuError, *ZhikuError.__subclasses__()]:
        assert f"error.{cls.__name__}" in MESSAGES, cls


# ---- the built page ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Any]:
    from rag.ui import build_ui

    services = SimpleNamespace(
        kb=SimpleNamespace(list_kbs=lambda: []),
        conversations=SimpleNamespace(browser_secret=lambda: "a-browser-state-secret"),
    )
    folder = tmp_path_factory.mktemp("uploads")
    return {lang: build_ui(services, Path(folder), lang) for lang in LANGS}  # type: ignore[arg-type]


TEXT_PROPS = ("label", "placeholder", "info", "x_title", "y_title", "color_title", "value")


def shown_texts(block: Any) -> list[str]:
    """What a component shows of its own (not what a user or a document put in it)."""
    found: list[str] = []
    for prop in TEXT_PROPS[:-1]:
        value = getattr(block, prop, None)
        if isinstance(value, str) and value:
            found.append(value)
    kind = type(block).__name__
    value = getattr(block, "value", None)
    if kind in ("Button", "Markdown") and isinstance(value, str) and value:
        found.append(value)
    if kind == "HTML" and isinstance(value, str) and value:
        found.append(html.unescape(re.sub(r"<[^>]+>", "", value)))
    if kind == "Dataframe":
        found.extend(str(header) for header in value["headers"])
    for choice in getattr(block, "choices", None) or []:
        found.append(str(choice[0]))
    return found


def page_texts(ui: Any) -> dict[int, list[str]]:
    return {block_id: t for block_id, b in ui.blocks.items() if (t := shown_texts(b))}


def all_texts(lang: str) -> set[str]:
    return {texts[lang] for texts in MESSAGES.values()}


def test_every_text_on_the_page_comes_from_the_table_in_its_language(built):
    for lang in LANGS:
        known = all_texts(lang) | LANGUAGE_NAMES
        for block_id, texts in page_texts(built[lang]).items():
            block = built[lang].blocks[block_id]
            for shown in texts:
                assert shown in known, f"{type(block).__name__} shows {shown!r}, not in the table"


def test_the_english_page_holds_no_chinese(built):
    config = str(built["en"].get_config_file()["components"])
    for name in [*LANGUAGE_NAMES, PLAIN_CHAT]:  # PLAIN_CHAT: a value, shown as chat.plain
        config = config.replace(name, "")
    assert not CJK.findall(config)


def test_switching_relabels_every_component_that_shows_a_text(built):
    ui = built["zh"]
    [relabel] = [f for f in ui.fns.values() if f.name == "relabel"]
    outputs = [block._id for block in relabel.outputs]
    assert len(outputs) == len(set(outputs))
    relabelled = dict(zip(outputs, relabel.fn("en", None), strict=True))
    # HTML and tables are filled again by the knowledge-base tab's `show_kb`, the source
    # viewer by `show_source`
    shows = [f for f in ui.fns.values() if f.name in ("show_kb", "show_source")]
    refilled = {block._id for show in shows for block in show.outputs}
    english = all_texts("en") | LANGUAGE_NAMES
    for block_id, texts in page_texts(ui).items():
        block = ui.blocks[block_id]
        if block_id in refilled:
            continue
        assert block_id in relabelled, f"{type(block).__name__} {texts} is not relabelled"
        update = relabelled[block_id]
        changed = {k: v for k, v in update.items() if k in TEXT_PROPS and k != "value"}
        if type(block).__name__ in ("Button", "Markdown"):
            changed["value"] = update["value"]
        changed.update({f"choice {c[0]}": c[0] for c in update.get("choices", [])})
        assert changed, f"{type(block).__name__} {texts}: no text in its update"
        for prop, value in changed.items():
            assert value in english, f"{type(block).__name__}.{prop} = {value!r}"
    switch = next(b for b in ui.blocks.values() if getattr(b, "elem_id", None) == "lang")
    assert relabelled[switch._id]["value"] == "en"
