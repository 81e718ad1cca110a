"""The passage of the source an answer rests on, quoted under it.

The model answers in its own words and often in fewer of them than the question needs: a
fragment of the source's clause ("中学毕业后，在广西柳州钢铁厂当工人" for "文化大革命期
间，马飚中学毕业后，在广西柳州钢铁厂当工人"), or a wrong span next to the right one. Under
such an answer the source's whole sentence it was drawn from is quoted, as the document
writes it, with its number:

    中学毕业后，在广西柳州钢铁厂当工人。 [1]

    > 文化大革命期间，马飚中学毕业后，在广西柳州钢铁厂当工人。 [1]

so the reader sees the evidence and the rest of the clause. The sentence is the one holding
the largest share of the answer's words, the question's aside (at least half, as for
`cite_sources`, and at least two of them). Where sentences hold about as many of them
(`NEAR_WORDS`), the one naming most of what the question asks about is quoted: for "2013年
3月，马飚担任什么职务？" the sentence "2013年3月，作为壮族代表，…当选为第十二届全国政协副主席。",
not "现任第十二届全国政协副主席。". Two or three sentences in a row are quoted when
the answer is drawn from all of them (they hold `MORE_WORDS` more of its words than any one
does), and a sentence that begins by pointing back ("同年，…", "它…", "This formalism…") is
quoted with the sentence before it, which says what it points to.

The passage is quoted whenever the answer does not already hold it word for word: an answer
that rewrites the whole sentence ("放线菌酮通过…" for the source's "它通过…") is the model's
reading, and the reader sees the document's own. Nothing is quoted under a "not found"
reply, an answer of one word or that only says the question again, an answer drawn from no
sentence, or a "sentence" too long to be one (a table or a list without stops).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.chains.attribution import MIN_SHARED, words
from rag.chains.citations import CITATION
from rag.chains.not_found import Refusals
from rag.chains.turn import Source
from rag.lexical.tokenize import ENGLISH_STOPWORDS

MAX_QUOTE_CHARS = 400
"""A longer passage is not quoted (a sentence this long is a table or a list)."""
MAX_SENTENCES = 3
"""The most sentences of one line of a source one quote holds."""
MORE_WORDS = 3
"""Sentences in a row are quoted, not the best one alone, when they hold at least this many
more of the answer's words: the answer was drawn from all of them."""
NEAR_WORDS = 1
"""A passage holding this many fewer of the answer's words than the best one is still a
candidate; among the candidates, the one holding most of the question's words is quoted.
Character pairs across a word boundary ("担任第…" and "现任第…" share "任第") make counts
one apart by chance."""
MIN_WORDS = 2
"""The least number of the answer's own words (a Chinese word: two characters) a quoted
sentence holds: a one-word answer, or one that only says the question again, would be
"drawn" from any sentence or title line that names the same thing."""

_NOT_TEXT = re.compile(r"[\W_]+")
"""What "word for word" ignores: spaces, punctuation and symbols."""

_REFERS_BACK = re.compile(
    r"^(?:同年|同月|当年|當年|次年|翌年|此后|此後|其后|其後|之后|之後|该|該|此|它|他|她|其|这|這|那"
    r"|(?:This|These|That|Those|It|Its|He|His|She|Her|They|Their)\b)"
)
"""The start of a sentence that points back to the sentence before it."""
_CHINESE_STOP = "。！？；"

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
    """A source's sentence (or sentences in a row) and the source's number."""

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


@dataclass(frozen=True)
class _Passage:
    """Sentences in a row of one line of a source, and the sentence before them."""

    index: int
    sentences: tuple[str, ...]
    before: str | None

    def quote(self) -> Quote:
        """The passage as a quote, with the sentence before it when its first points back."""
        quoted = self.sentences
        if self.before is not None and _REFERS_BACK.match(quoted[0]):
            longer = _joined((self.before, *quoted))
            if len(longer) <= MAX_QUOTE_CHARS:
                return Quote(self.index, longer)
        return Quote(self.index, _joined(quoted))


def _joined(parts: Sequence[str]) -> str:
    text = parts[0]
    for part in parts[1:]:
        text += part if text[-1] in _CHINESE_STOP else " " + part
    return text


def _passages(sources: Sequence[Source], most: int) -> Iterator[_Passage]:
    for source in sources:
        for line in source.text.splitlines():
            said = sentences(line)
            for first in range(len(said)):
                before = said[first - 1] if first else None
                for count in range(1, min(most, len(said) - first) + 1):
                    run = tuple(said[first : first + count])
                    yield _Passage(source.index, run, before)


@dataclass(frozen=True)
class _Drawn:
    """A passage, how many of the answer's own words it holds and of the question's."""

    own: int
    asked: int
    passage: _Passage


def _most_drawn_from(
    own: set[str], asked: set[str], sources: Sequence[Source], most: int, least: int
) -> _Drawn:
    """Of the passages of at most `most` sentences holding nearly the most of the answer's
    own words (`NEAR_WORDS`, and at least `least`), the one holding the most of the
    question's words `asked` (then of the answer's, then the fewest sentences, the first)."""
    drawn = [
        _Drawn(len(own & found), len(asked & found), passage)
        for passage in _passages(sources, most)
        for found in [words(" ".join(passage.sentences))]
    ]
    if not drawn:
        return _Drawn(0, 0, _Passage(0, ("",), None))
    top = max(each.own for each in drawn)
    floor = max(top - NEAR_WORDS, least)
    near = [each for each in drawn if each.own >= floor] or [
        each for each in drawn if each.own == top
    ]
    return max(near, key=lambda each: (each.asked, each.own, -len(each.passage.sentences)))


def supporting_sentence(answer: str, question: str, sources: Sequence[Source]) -> Quote | None:
    """The passage holding the largest share (at least `MIN_SHARED`, and `MIN_WORDS`) of
    the answer's own words (the question's aside); None when there is none, or the answer
    holds it word for word."""
    asked = words(question) - ENGLISH_STOPWORDS
    own = words(CITATION.sub(" ", answer)) - words(question)
    if len(own) < MIN_WORDS:  # one name, or the question said again: nothing to rest on
        return None
    least = max(MIN_WORDS, math.ceil(MIN_SHARED * len(own)))
    drawn = _most_drawn_from(own, asked, sources, 1, least)
    wider = _most_drawn_from(own, asked, sources, MAX_SENTENCES, least)
    if wider.own >= drawn.own + MORE_WORDS:
        drawn = wider
    if drawn.own < least:
        return None
    quote = drawn.passage.quote()
    if len(quote.sentence) > MAX_QUOTE_CHARS or holds_word_for_word(answer, quote.sentence):
        return None
    return quote


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
