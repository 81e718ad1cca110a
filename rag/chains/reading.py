"""Giving the model Traditional-Chinese sources in Simplified script, and putting the
sources' own characters back into what it copies from them.

Qwen models read Simplified Chinese better than Traditional: on dev-set questions 100-199
(Traditional Chinese, the 1.5B) the answers it did give from Simplified sources were right
for 70 of 80 questions, against 64 of the same 80 from the sources as written
(scripts/eval_prompts.py, README "Prompt and context"). Its answer is in Simplified then;
OpenCC alone converting it back guesses at characters both scripts use (岳飛 → 嶽飛), so
every stretch the answer copies from the sources is replaced by the sources' own text.
The `simplified_reading` answer processor (`rag.chains.processors`) does both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rag.chains.script import ScriptConverter
from rag.chains.streams import closing

# The last characters of a copied stretch held back before they are shown: until then the
# stretch may still turn out to come from another place in the sources (which could change
# which of two Traditional characters a Simplified one stands for). Small, because the
# script conversion after it holds back a little too (scripts/bench_streaming.py).
_STRETCH_HOLD = 2


class SourceWording:
    """Replaces each stretch of two or more characters an answer copies from `read` (the
    text the model was given) with the same stretch of `original` (the text as written).

    `read` and `original` are aligned character by character (see `aligned_simplified`).
    The last characters of a stretch are held back until it ends or grows, so pieces come out
    a little later than they go in.
    """

    def __init__(self, read: str, original: str) -> None:
        if len(read) != len(original):
            raise ValueError("read and original must be aligned: the same length")
        self._read = read
        self._original = original

    def restore(self, answer: str) -> str:
        return "".join(self.stream([answer]))

    def stream(self, pieces: Iterable[str]) -> Iterator[str]:
        return closing(pieces, self._restoring)

    def _restoring(self, pieces: Iterator[str]) -> Iterator[str]:
        read = self._read
        at = -1  # where in `read` the stretch being copied starts (-1: none)
        length = 0  # its length so far
        shown = 0  # how much of it was already given out
        for piece in pieces:
            out: list[str] = []
            for char in piece:
                if at >= 0 and at + length < len(read) and read[at + length] == char:
                    length += 1
                elif at >= 0 and shown == 0 and (moved := self._find(at, length, char)) >= 0:
                    at, length = moved, length + 1
                else:
                    out.append(self._finish(at, length, shown))
                    at = read.find(char)
                    length, shown = (1, 0) if at >= 0 else (0, 0)
                    if at < 0:
                        out.append(char)
                    continue
                if length - shown > _STRETCH_HOLD:
                    out.append(self._original[at + shown : at + length - _STRETCH_HOLD])
                    shown = length - _STRETCH_HOLD
            if text := "".join(out):
                yield text
        if tail := self._finish(at, length, shown):
            yield tail

    def _find(self, at: int, length: int, char: str) -> int:
        """Another place in `read` where the stretch so far continues with `char`."""
        return self._read.find(self._read[at : at + length] + char)

    def _finish(self, at: int, length: int, shown: int) -> str:
        if at < 0:
            return ""
        if length >= 2:
            return self._original[at + shown : at + length]
        return self._read[at : at + length]  # one character is no evidence of copying


def aligned_simplified(converter: ScriptConverter, text: str) -> str:
    """`text` in Simplified script, the same length as `text`: OpenCC converts phrases,
    which may change a line's length; such a line is converted character by character."""
    converted = converter.to_simplified(text)
    if len(converted) == len(text):
        return converted
    lines = []
    for line in text.split("\n"):
        simplified = converter.to_simplified(line)
        if len(simplified) != len(line):
            simplified = "".join(_one_for_one(converter, char) for char in line)
        lines.append(simplified)
    return "\n".join(lines)


def _one_for_one(converter: ScriptConverter, char: str) -> str:
    simplified = converter.to_simplified(char)
    return simplified if len(simplified) == 1 else char
