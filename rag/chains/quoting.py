"""The sentence of the source an answer rests on, quoted under it.

The model answers in its own words and often in fewer of them than the question needs: a
fragment of the source's clause ("中学毕业后，在广西柳州钢铁厂当工人" for "文化大革命期
间，马飚中学毕业后，在广西柳州钢铁厂当工人"), or a wrong span next to the right one. Under
such an answer the source's whole sentence it was drawn from is quoted, as the document
writes it, with its number:

    中学毕业后，在广西柳州钢铁厂当工人。 [1]

    > 文化大革命期间，马飚中学毕业后，在广西柳州钢铁厂当工人。 [1]

so the reader sees the evidence and the rest of the clause. The sentence is the one holding
the largest share of the answer's words, the question's aside (at least half, as for
`cite_sources`, and at least two of them). It is quoted whenever the answer does not already
hold it word for word: an answer that rewrites the whole sentence ("放线菌酮通过…" for the
source's "它通过…") is the model's reading, and the reader sees the document's own. Nothing
is quoted under a "not found" reply, an answer of one word or that only says the question
again, an answer drawn from no sentence, or a "sentence" too long to be one (a table or a
list without stops).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.chains.attribution import MIN_SHARED, words
from rag.chains.citations import CITATION
from rag.chains.not_found import Refusals
from rag.chains.turn import Source

MAX_QUOTE_CHARS = 400
"""A longer span between two sentence ends is not quoted."""
MIN_WORDS = 2
"""The least number of the answer's own words (a Chinese word: two characters) a quoted
sentence holds: a one-word answer, or one that only says the question again, would be
"drawn" from any sentence or title line that names the same thing."""

_NOT_TEXT = re.compile(r"[\W_]+")
"""What "word for word" ignores: spaces, punctuation and symbols."""

_QUOTE_AT_END = re.compile(r"\n\n> [^\n]*\[\d+\]\s*$")

_SENTENCE_END = re.compile(
    r"(?<=[。！？；!?])"  # Chinese ends, and ! ? anywhere
    r"|(?<=[^A-Z\s]\.)\s+(?=[\"'(“‘]?[A-Z0-9])"  # ". " + a capital; not after an initial ("F.")
    r"|\n+"
)


def sentences(text: str) -> list[str]:
    """The sentences of a source's text, stripped."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def without_quote(text: str) -> str:
    """An answer's text above its quote (all of it when it has none)."""
    return _QUOTE_AT_END.sub("", text)


@dataclass(frozen=True)
class Quote:
    """A source's sentence and the source's number."""

    index: int
    sentence: str

    def markdown(self) -> str:
        """The quote's text; a bracketed number the document has ("[3]", a reference) is
        left out, so that every [n] the reply holds names a source shown."""
        sentence = " ".join(CITATION.sub("", self.sentence).split())
        return f"\n\n> {sentence} [{self.index}]"


def _letters(text: str) -> str:
    """A text's letters, digits and characters in order (NFKC, lower case), without [n]."""
    return _NOT_TEXT.sub("", unicodedata.normalize("NFKC", CITATION.sub("", text)).lower())


def holds_word_for_word(answer: str, sentence: str) -> bool:
    """Whether the answer has the sentence in it, punctuation and citations aside."""
    return _letters(sentence) in _letters(answer)


def supporting_sentence(answer: str, question: str, sources: Sequence[Source]) -> Quote | None:
    """The sentence holding the largest share (at least `MIN_SHARED`, and `MIN_WORDS`) of
    the answer's own words (the question's aside); None when there is none, or the answer
    holds it word for word."""
    said = words(CITATION.sub(" ", answer))
    own = said - words(question)
    if len(own) < MIN_WORDS:  # one name, or the question said again: nothing to rest on
        return None
    best: tuple[float, Quote] | None = None
    for source in sources:
        for sentence in sentences(source.text):
            shared = len(own & words(sentence))
            if shared >= MIN_WORDS and (best is None or shared / len(own) > best[0]):
                best = (shared / len(own), Quote(source.index, sentence))
    if best is None or best[0] < MIN_SHARED or len(best[1].sentence) > MAX_QUOTE_CHARS:
        return None
    if holds_word_for_word(answer, best[1].sentence):
        return None
    return best[1]


class SentenceQuoter:
    """The quote under a shown answer (see the module's text), as one more piece."""

    def __init__(self, refusals: Refusals) -> None:
        self.refusals = refusals

    def pieces(self, answer: str, question: str, sources: Sequence[Source]) -> Iterator[str]:
        if not answer.strip() or self.refusals.begins(answer):
            return
        quote = supporting_sentence(answer, question, sources)
        if quote is not None:
            yield quote.markdown()


__all__ = [
    "Quote",
    "SentenceQuoter",
    "holds_word_for_word",
    "sentences",
    "supporting_sentence",
    "without_quote",
]
