"""A reply is either an answer or the "not found" reply, never both.

The 1.5B sometimes states the answer and then appends the refusal the prompt offers it
("… [1] (I could not find the answer in the documents)"), or refuses and goes on. Two
streaming steps over an answer's pieces:

* `as_not_found`: a reply that begins with the refusal is the refusal; it is shown as the
  app's own "not found" reply in the question's language, and the model stops there.
* `TrailingRefusal`: a refusal after the answer began is removed, up to the end of its
  clause (the next sentence or clause mark, or the bracket closing one opened before it),
  so what the answer said stays and the refusal is never shown with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rag.chains.not_found import Refusals, RefusalWatch
from rag.chains.streams import closing

_LEAD = ' \t\u3000(（「“"'  # may come before a refusal and go with it
_OPENERS = "(（「“"
_CLOSERS = ")）」”"
_CLAUSE_ENDS = "。．.!！?？，,；;"


def as_not_found(pieces: Iterable[str], refusals: Refusals, reply: str) -> Iterator[str]:
    """`pieces`, or `reply` alone if they begin with the "not found" reply (the model's
    stream is then closed: it stops generating)."""

    def replacing(source: Iterator[str]) -> Iterator[str]:
        watch = RefusalWatch(refusals)
        for piece in source:
            shown = watch.feed(piece)
            if watch.refused:
                yield reply
                return
            if shown:
                yield shown
        if tail := watch.flush():
            yield tail

    return closing(pieces, replacing)


class TrailingRefusal:
    """Removes the "not found" reply from a streamed answer that began as an answer.

    Held back while streaming: spaces and opening brackets, and the beginning of what may
    become a refusal ("资料", "I could").
    """

    def __init__(self, refusals: Refusals) -> None:
        self._refusals = refusals

    def remove(self, answer: str) -> str:
        return "".join(self.stream([answer]))

    def stream(self, pieces: Iterable[str]) -> Iterator[str]:
        return closing(pieces, lambda source: _Removal(self._refusals).run(source))


class _Removal:
    """The state of one answer going through `TrailingRefusal`."""

    def __init__(self, refusals: Refusals) -> None:
        self.refusals = refusals
        self.held = ""  # may still become a refusal
        self.started = False  # answer text came before: a refusal now is a trailing one
        self.leading = False  # the reply began with the refusal: left as it is
        self.depth = -1  # >= 0: inside a refusal, that many brackets open
        self.after = False  # a refusal ended with a bracket: a clause mark next is dropped
        self.last = ""  # the last character given out

    def run(self, pieces: Iterator[str]) -> Iterator[str]:
        for piece in pieces:
            if self.leading:
                yield piece
                continue
            out: list[str] = []
            for char in piece:
                self.step(char, out)
            if text := "".join(out):
                self.last = text[-1]
                yield text
        if self.held:
            yield self.held

    def step(self, char: str, out: list[str]) -> None:
        if self.leading:
            out.append(char)
        elif self.depth >= 0:
            self.drop(char, out)
        elif self.after and char in _CLAUSE_ENDS and _ends_clause(out, self.last):
            self.after = False  # "答案 [1]。<refusal>)。": one "。" is enough
        else:
            self.after = False
            self.held += char
            self.settle(out)

    def drop(self, char: str, out: list[str]) -> None:
        """`char` inside a refusal: dropped, up to the end of its clause."""
        if char == "\n":
            self.depth = -1
            out.append(char)
        elif char in _OPENERS:
            self.depth += 1
        elif char in _CLOSERS and self.depth > 0:
            self.depth -= 1
            if self.depth == 0:
                self.depth, self.after = -1, True
        elif char in _CLAUSE_ENDS and self.depth == 0:
            self.depth = -1

    def settle(self, out: list[str]) -> None:
        """Give out what of `held` cannot be a refusal; drop it when it is one."""
        while self.held:
            lead = len(self.held) - len(self.held.lstrip(_LEAD))
            rest = self.held[lead:]
            if rest and self.refusals.at(rest):
                self.begin_refusal(lead, out)
                return
            if not rest or self.refusals.may_begin(rest):
                return
            char, self.held = self.held[0], self.held[1:]
            out.append(char)
            self.started = self.started or not char.isspace()

    def begin_refusal(self, lead: int, out: list[str]) -> None:
        if not self.started:  # the reply is the refusal (see `as_not_found`)
            self.leading = True
            out.append(self.held)
        else:
            self.depth = sum(char in _OPENERS for char in self.held[:lead])
        self.held = ""


def _ends_clause(out: list[str], last: str) -> bool:
    """Whether the text given out so far ends with a clause mark."""
    tail = "".join(out)[-1:] or last
    return bool(tail) and tail in _CLAUSE_ENDS


__all__ = ["TrailingRefusal", "as_not_found"]
