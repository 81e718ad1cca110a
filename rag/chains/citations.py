"""Every [n] in an answer names a source that was shown.

Small models cite sources they were not given ("... [4]" with two sources) or number them
from 0. A citation ([1], [1, 2], 【1】, ［2］) whose numbers are all shown sources is left as
written; one naming some that are not keeps only those that are ([1, 4] -> [1]); one naming
none is removed, with the space before it. Streaming holds back only an open bracket run
(and a space before it) until it closes or cannot be a citation.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator

from rag.chains.streams import closing

_OPEN = r"\[［【"
_CLOSE = r"\]］】"
_SEPARATORS = "[,，、]"
CITATION = re.compile(rf"[{_OPEN}]\s*(\d+(?:\s*{_SEPARATORS}\s*\d+)*)\s*[{_CLOSE}]")
"""A citation: [1], [1, 2], [1，2], 【1】, ［1］ (the devgate counts the same)."""
_SPACE = r"[ \t\u3000]"
# What may still become a citation: a space, or a space and an open bracket run ("[1, ").
_CANDIDATE = re.compile(
    rf"{_SPACE}|{_SPACE}?[{_OPEN}]\s*(?:\d+(?:\s*{_SEPARATORS}\s*\d+)*\s*{_SEPARATORS}?\s*)?"
)
_HELD_CITATION = re.compile(rf"{_SPACE}?{CITATION.pattern}")
_SEPARATOR = re.compile(rf"\s*{_SEPARATORS}\s*")
# A run longer than this is not a citation (a bracket followed by many spaces or digits).
_LONGEST_RUN = 24


def cited(citation: str) -> list[int]:
    """The source numbers a citation names, in order."""
    match = CITATION.search(citation)
    return [int(n) for n in _SEPARATOR.split(match.group(1))] if match else []


def repaired(citation: str, shown: Collection[int]) -> str:
    """`citation` (a space before it allowed) naming only sources in `shown`; "" when it
    names none."""
    match = CITATION.search(citation)
    if match is None:
        return citation
    numbers = [int(n) for n in _SEPARATOR.split(match.group(1))]
    valid = [n for n in numbers if n in shown]
    if valid == numbers:
        return citation
    if not valid:
        return ""
    separator = sep.group() if (sep := _SEPARATOR.search(match.group(1))) else ", "
    inner = separator.join(str(n) for n in dict.fromkeys(valid))
    body = citation[match.start() : match.start() + 1] + inner + citation[match.end() - 1]
    return citation[: match.start()] + body


class CitationFilter:
    """Rewrites the citations of a streamed answer to name only the sources in `shown`."""

    def __init__(self, shown: Collection[int]) -> None:
        self._shown = frozenset(shown)

    def rewrite(self, answer: str) -> str:
        return "".join(self.stream([answer]))

    def stream(self, pieces: Iterable[str]) -> Iterator[str]:
        return closing(pieces, self._rewriting)

    def _rewriting(self, pieces: Iterator[str]) -> Iterator[str]:
        held = ""
        for piece in pieces:
            out: list[str] = []
            for char in piece:
                held = self._step(held + char, out)
            if text := "".join(out):
                yield text
        if held:
            yield held

    def _step(self, held: str, out: list[str]) -> str:
        """What stays held once `held`'s last character arrived; the rest goes to `out`."""
        while held:
            if _HELD_CITATION.fullmatch(held):
                out.append(repaired(held, self._shown))
                return ""
            if len(held) <= _LONGEST_RUN and _CANDIDATE.fullmatch(held):
                return held
            out.append(held[0])  # not a citation: the first character goes on
            held = held[1:]
        return ""


__all__ = ["CITATION", "CitationFilter", "cited", "repaired"]
