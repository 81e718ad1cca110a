"""Answering in the Chinese script the question was asked in.

Small models often slip into Simplified characters when asked in Traditional Chinese (the
dev set: 6 of 100 answers). OpenCC converts the answer, phrase-aware (头发 → 頭髮, 发展 →
發展), to the Taiwan standard; a streamed answer is converted as it arrives, holding back
only the last few characters, whose form may still depend on the next ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Literal

Script = Literal["traditional", "simplified", "neutral"]

# OpenCC phrases are short; a held-back tail of Chinese characters this long gives the next
# characters a say in how the last ones convert, at a delay of about one token
# (scripts/bench_streaming.py measures it).
_HOLD_BACK_CHARS = 2
# Characters already sent that are still given to OpenCC, as context for the next ones.
_CONTEXT_CHARS = 6


class ScriptConverter:
    """Simplified → Traditional (Taiwan standard) conversion and script detection."""

    def __init__(self) -> None:
        try:
            import opencc
        except ImportError as exc:  # a declared dependency: only a broken install lacks it
            raise ImportError("answer script conversion needs OpenCC: pip install OpenCC") from exc
        self._to_traditional = opencc.OpenCC("s2tw.json")
        self._to_simplified = opencc.OpenCC("t2s.json")

    def to_traditional(self, text: str) -> str:
        return str(self._to_traditional.convert(text))

    def script_of(self, text: str) -> Script:
        """Which script `text`'s script-specific characters belong to (most of them)."""
        traditional = _changed_chars(text, self.to_simplified)
        simplified = _changed_chars(text, self.to_traditional)
        if traditional > simplified:
            return "traditional"
        if simplified > traditional:
            return "simplified"
        return "neutral"

    def to_simplified(self, text: str) -> str:
        return str(self._to_simplified.convert(text))

    def has_simplified_only(self, text: str) -> bool:
        """Whether `text` holds a character that Traditional script writes differently."""
        return _changed_chars(text, self.to_traditional) > 0

    def convert_to(self, script: Script, text: str) -> str:
        """`text` in `script` ("neutral" leaves it as it is)."""
        return text if script == "neutral" else self._converter(script)(text)

    def _converter(self, script: Script) -> Callable[[str], str]:
        return self.to_traditional if script == "traditional" else self.to_simplified

    def stream_to(
        self, script: Script, pieces: Iterable[str], keep: frozenset[str] = frozenset()
    ) -> Iterator[str]:
        """`pieces` converted to `script` as they come; joined, the same as converting the
        whole text except where a phrase spans more than the held-back characters.
        Characters in `keep` are left as they are (see `kept_characters`)."""
        if script == "neutral":
            yield from pieces
            return
        convert = _keeping(self._converter(script), keep)
        pending = ""
        done = ""  # the last characters already sent: context for the ones that follow
        for piece in pieces:
            pending += piece
            converted = convert(done + pending)
            if len(converted) != len(done + pending):
                continue  # lengths differ only mid-phrase: wait for more text
            ready = len(pending) - _held_back(pending)
            if ready <= 0:
                continue
            yield converted[len(done) : len(done) + ready]
            done = (done + pending[:ready])[-_CONTEXT_CHARS:]
            pending = pending[ready:]
        if pending:
            converted = convert(done + pending)
            same_length = len(converted) == len(done + pending)
            yield converted[len(done) :] if same_length else convert(pending)


def _keeping(convert: Callable[[str], str], keep: frozenset[str]) -> Callable[[str], str]:
    """`convert`, except that the characters in `keep` stay as they were."""
    if not keep:
        return convert

    def converted_keeping(text: str) -> str:
        converted = convert(text)
        if len(converted) != len(text):
            return converted  # mid-phrase; `stream_to` waits for more text
        return "".join(
            before if before in keep else after
            for before, after in zip(text, converted, strict=True)
        )

    return converted_keeping


def kept_characters(converter: ScriptConverter, script: Script, context: str) -> frozenset[str]:
    """The Chinese characters of the retrieved text, when it is written in `script`.

    OpenCC reads its input as Simplified, so characters that both scripts use turn into
    what they stand for in Simplified text: 岳飛 → 嶽飛, 范汝為 → 範汝為, 朴 → 樸 (dev set:
    4 of 100 answers spoiled so). An answer copies names from its sources; the characters
    the sources use in the answer's own script are right as they are.
    """
    if script == "neutral" or converter.script_of(context) != script:
        return frozenset()
    return frozenset(char for char in context if is_han(char))


def _held_back(text: str) -> int:
    """How many characters at the end of `text` may still change with the next ones: the
    trailing Chinese characters (a phrase never spans punctuation, spaces or Latin text), at
    most _HOLD_BACK_CHARS."""
    held = 0
    for char in reversed(text[-_HOLD_BACK_CHARS:]):
        if not is_han(char):
            break
        held += 1
    return held


def is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" or char >= "\U00020000"


def _changed_chars(text: str, convert: Callable[[str], str]) -> int:
    converted = convert(text)
    if len(converted) != len(text):
        return sum(convert(char) != char for char in text)
    return sum(a != b for a, b in zip(text, converted, strict=True))


def answer_script(converter: ScriptConverter, question: str, context: str = "") -> Script:
    """The script to answer in: the question's, or, for a question without script-specific
    characters, the retrieved text's."""
    script = converter.script_of(question)
    return script if script != "neutral" or not context else converter.script_of(context)
