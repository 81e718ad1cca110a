"""An answer that cites no source gets the number of the source it was drawn from.

A prompt that asks the model only for a plain answer (Langchain-Chatchat's Chinese
instruction, the one that copies longer spans of the sources) leaves the citations to the
app: at the end of such an answer the source sharing most of the answer's words is named,
" [n]", so every answer still points at its evidence. Words of the question count only when
the answer has nothing else: an answer that restates the question would otherwise cite any
source about the subject. No citation is added to a "not found" reply, an answer that
already cites, or one that shares too little with every source (a guess from the model's
own knowledge is not given a source it did not come from).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from rag.chains.citations import CITATION
from rag.chains.not_found import Refusals
from rag.chains.streams import closing
from rag.chains.turn import Source

MIN_SHARED = 0.5
"""The least share of the answer's words a source must hold to be cited."""

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> set[str]:
    """Lower-cased words, and the character pairs of Chinese runs (one character alone)."""
    found: set[str] = set()
    for run in _HAN.findall(text):
        found.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    found.update(_WORD.findall(_HAN.sub(" ", text).lower()))
    return found


def drawn_from(answer: str, question: str, sources: Sequence[Source]) -> int | None:
    """The number of the source holding the largest share (at least `MIN_SHARED`) of the
    answer's words, the question's words aside; None when no source holds enough."""
    said = words(CITATION.sub(" ", answer))
    own = said - words(question) or said
    if not own:
        return None
    shares = [(len(own & words(source.text)) / len(own), source.index) for source in sources]
    share, index = max(shares, key=lambda pair: pair[0], default=(0.0, 0))
    return index if share >= MIN_SHARED else None


class CitationAppender:
    """Appends " [n]" to a streamed answer that cites nothing (see the module's text)."""

    def __init__(self, refusals: Refusals) -> None:
        self.refusals = refusals

    def stream(
        self, pieces: Iterable[str], question: str, sources: Sequence[Source]
    ) -> Iterator[str]:
        def appending(source: Iterator[str]) -> Iterator[str]:
            answer = ""
            for piece in source:
                answer += piece
                yield piece
            if CITATION.search(answer) or self.refusals.begins(answer) or not answer.strip():
                return
            index = drawn_from(answer, question, sources)
            if index is not None:
                yield f"{'' if answer[-1].isspace() else ' '}[{index}]"

        return closing(pieces, appending)
