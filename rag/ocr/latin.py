"""English as the Chinese recogniser reads it: spaces put back, zeros read as "o" restored.

PP-OCRv4's Chinese model (the one in the wheel) reads English but often drops the spaces of
small print: on the dev set's English pages, scanned at 200 dpi and read at 300 dpi, about
one line in seven came back as "southernCaliforniatherearealsotwelvecities...", which no
word search finds; and it reads zeros inside numbers as "o" ("2o0,oo0", "1oo"). Repairs:

* a run of ten or more letters that is not an English word is split into the most likely
  words (wordninja: word frequencies of English Wikipedia, inside the package): "Ontario
  metropolitan", "the exception of San Bernardino". Shorter runs are left alone (a name such
  as "Cartledge" would be cut into "Cart ledge"), and so are words wordninja knows and runs
  whose split has a piece of one or two letters that is not a common short word: a term it
  does not know comes apart that way ("rhodophyte" into "rho dop hy te", "phagocytic" into
  "ph ago cy tic"), and is better kept whole.
* "o"/"O" inside a number (after a digit, and followed by a digit, a comma, a point or
  another "o") becomes "0": "2o0,oo0" → "200,000", "1oo" → "100".
* a sentence end glued to the next sentence ("lost.The") gets its space back.
"""

from __future__ import annotations

import re

MIN_GLUED_LETTERS = 10
_GLUED = re.compile(rf"[A-Za-z]{{{MIN_GLUED_LETTERS},}}")
_NUMBER = re.compile(r"\d[\doO,.]*")
_SENTENCE_GLUE = re.compile(r"(?<=[a-z]{2})([.;:,])(?=[A-Z][a-z])")
SHORT_WORDS = frozenset(
    {"a", "i", "an", "in", "on", "of", "to", "at", "by", "is", "it", "as", "or", "be", "we"}
    | {"he", "me", "my", "no", "so", "up", "us", "do", "go", "if", "am"}
)
"""The pieces of one or two letters a split may have."""


class LatinRepair:
    """The repairs of the module doc; built once per OCR worker (it loads the word list)."""

    def __init__(self) -> None:
        import wordninja

        self._model = wordninja.DEFAULT_LANGUAGE_MODEL
        self._words: dict[str, float] = self._model._wordcost  # the package's vocabulary

    def __call__(self, text: str) -> str:
        text = _NUMBER.sub(_zeros, text)
        text = _GLUED.sub(self._split, text)
        return _SENTENCE_GLUE.sub(r"\1 ", text)

    def _split(self, match: re.Match[str]) -> str:
        run = match.group()
        if run.lower() in self._words:
            return run
        pieces = self._model.split(run)
        if "".join(pieces) != run or any(
            len(piece) <= 2 and piece.lower() not in SHORT_WORDS for piece in pieces
        ):
            return run
        return " ".join(pieces)


def _zeros(match: re.Match[str]) -> str:
    """o/O read for 0 in a number; a single trailing "o" may be a word's first letter."""
    run = match.group()
    core = run.rstrip(",.")
    rest = run[len(core) :]
    tail = ""
    if core[-1] in "oO" and core[-2] not in "oO":
        core, tail = core[:-1], core[-1]
    return core.replace("o", "0").replace("O", "0") + tail + rest
