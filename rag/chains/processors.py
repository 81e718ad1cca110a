"""Answer processors: the steps between the model's stream of text and the user.

Each processor may change what the model is given (`prepare`: the sources and question it
reads) and rewrites the answer's pieces as they stream (`process`: an iterator of pieces in,
one out, closing the one it was given when it is closed: see `rag.chains.streams.closing`).
A model entry lists its processors by name (`answer_processors` in
`configs/model_config.py`), in the order the answer passes through them; each prepares the
turn in that order too.

Registered processors (`PROCESSORS`):

* `source_numbers`: numbers written as the sources write them (二千, not 2000).
* `simplified_reading`: the model reads the sources and question in Simplified script; what
  its answer copies from them is put back as written. Needs `question_script` after it.
* `question_script`: the answer in the Chinese script of the question (OpenCC).
* `valid_citations`: every [n] names a source that was shown.
* `one_reply`: a refusal appended to an answer is removed.
* `cite_sources`: an answer citing no source gets the number of the source it was drawn
  from; for prompts that do not ask for citations.
* `not_found_reply`: a refusal is shown as the app's "not found" reply, in the question's
  language, and the model stops there.

Without sources (plain chat) only `question_script` changes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Protocol

from rag.chains.attribution import CitationAppender
from rag.chains.citations import CitationFilter
from rag.chains.not_found import Refusals, not_found_reply
from rag.chains.numbers import NumberWording
from rag.chains.reading import SourceWording, aligned_simplified
from rag.chains.replies import TrailingRefusal, as_not_found
from rag.chains.script import ScriptConverter, answer_script, kept_characters
from rag.chains.streams import closing
from rag.chains.turn import Turn
from rag.errors import ConfigError


class AnswerProcessor(Protocol):
    """One step between the model and the user."""

    name: str

    def prepare(self, turn: Turn) -> Turn:
        """What the model is given (`read_context`, `read_question`)."""
        ...

    def process(self, pieces: Iterable[str], turn: Turn) -> Iterator[str]:
        """The answer's pieces, rewritten as they come."""
        ...


class _Processor:
    """Base: the model reads the turn as it is given."""

    name = ""

    def prepare(self, turn: Turn) -> Turn:
        return turn


class SourceNumbers(_Processor):
    """Numbers the answer rewrites (2000 for 二千) written as the sources the model read
    write them (`rag.chains.numbers`)."""

    name = "source_numbers"

    def process(self, pieces: Iterable[str], turn: Turn) -> Iterator[str]:
        if not turn.sources:
            return iter(pieces)
        return NumberWording(f"{turn.read_context}\n{turn.read_question}").stream(pieces)


class SimplifiedReading(_Processor):
    """The sources and question given to the model in Simplified script; what the answer
    copies from them put back as the documents write it (`rag.chains.reading`), when the
    answer is to be in Traditional script."""

    name = "simplified_reading"

    def __init__(self, converter: ScriptConverter) -> None:
        self.converter = converter

    def prepare(self, turn: Turn) -> Turn:
        if not turn.sources:
            return turn
        read_context = aligned_simplified(self.converter, turn.read_context)
        read_question = aligned_simplified(self.converter, turn.read_question)
        return replace(turn, read_context=read_context, read_question=read_question)

    def process(self, pieces: Iterable[str], turn: Turn) -> Iterator[str]:
        read = f"{turn.read_context}\n{turn.read_question}"
        written = f"{turn.context}\n{turn.standalone}"
        script = answer_script(self.converter, turn.question, turn.context)
        if read == written or len(read) != len(written) or script != "traditional":
            return iter(pieces)
        return SourceWording(read, written).stream(pieces)


class QuestionScript(_Processor):
    """The answer in the script of the question (or of the sources, when the question has
    no script-specific characters), keeping the sources' own characters (`rag.chains.script`)."""

    name = "question_script"

    def __init__(self, converter: ScriptConverter) -> None:
        self.converter = converter

    def process(self, pieces: Iterable[str], turn: Turn) -> Iterator[str]:
        script = answer_script(self.converter, turn.question, turn.context)
        keep = kept_characters(self.converter, script, turn.context)
        return closing(pieces, lambda source: self.converter.stream_to(script, source, keep))


class ValidCitations(_Processor):
    """Citations naming only sources that were shown (`rag.chains.citations`)."""

    name = "valid_citations"

    def process(self, pieces: Iterable[str], turn: Turn) -> Iterator[str]:
        if not turn.sources:
            return iter(pieces)
        return CitationFilter({source.index for source in turn.sources}).stream(pieces)


class CiteSources(_Processor):
    """An answer citing nothing gets " [n]" for the source it was drawn from
    (`rag.chains.attribution`); after "not_found_reply" and "valid_citations"."""

    name = "cite_sources"

    def __init__(self, refusals: Refusals) -> None:
        self.appender = CitationAppender(refusals)

    def process(self, pieces: Iterable[str], turn: Turn) -> Iterator[str]:
        if not turn.sources:
            return iter(pieces)
        return self.appender.stream(pieces, turn.standalone, turn.sources)


class OneReply(_Processor):
    """A "not found" reply after the answer began is removed (`rag.chains.replies`)."""

    name = "one_reply"

    def __init__(self, refusals: Refusals) -> None:
        self.remover = TrailingRefusal(refusals)

    def process(self, pieces: Iterable[str], turn: Turn) -> Iterator[str]:
        return self.remover.stream(pieces) if turn.sources else iter(pieces)


class NotFoundReply(_Processor):
    """A reply that begins with the "not found" reply becomes the app's own, in the
    question's language (`rag.chains.not_found.NOT_FOUND_REPLIES`)."""

    name = "not_found_reply"

    def __init__(self, refusals: Refusals) -> None:
        self.refusals = refusals

    def process(self, pieces: Iterable[str], turn: Turn) -> Iterator[str]:
        if not turn.sources:
            return iter(pieces)
        return as_not_found(pieces, self.refusals, not_found_reply(turn.language))


@dataclass(frozen=True)
class ProcessorTools:
    """What processors are built with."""

    converter: ScriptConverter
    refusals: Refusals


PROCESSORS: Mapping[str, Callable[[ProcessorTools], AnswerProcessor]] = MappingProxyType(
    {
        SourceNumbers.name: lambda tools: SourceNumbers(),
        SimplifiedReading.name: lambda tools: SimplifiedReading(tools.converter),
        QuestionScript.name: lambda tools: QuestionScript(tools.converter),
        ValidCitations.name: lambda tools: ValidCitations(),
        OneReply.name: lambda tools: OneReply(tools.refusals),
        NotFoundReply.name: lambda tools: NotFoundReply(tools.refusals),
        CiteSources.name: lambda tools: CiteSources(tools.refusals),
    }
)
"""Answer processors by config name."""

# processor -> the one that must come after it in the list
_NEEDS_AFTER = {SimplifiedReading.name: QuestionScript.name}


def build_processors(names: Sequence[str], tools: ProcessorTools) -> list[AnswerProcessor]:
    """The processors `names` lists, in order; ConfigError for an unknown name (listing
    the valid ones), a name listed twice, or an order that cannot work."""
    for at, name in enumerate(names):
        if name not in PROCESSORS:
            raise ConfigError(
                f"unknown answer processor {name!r}; valid: {', '.join(sorted(PROCESSORS))}"
            )
        if name in names[:at]:
            raise ConfigError(f"answer processor {name!r} is listed twice")
        needed = _NEEDS_AFTER.get(name)
        if needed and needed not in names[at + 1 :]:
            raise ConfigError(
                f"answer processor {name!r} needs {needed!r} after it in the list, to write "
                "the answer back in the question's script"
            )
    return [PROCESSORS[name](tools) for name in names]


__all__ = [
    "PROCESSORS",
    "AnswerProcessor",
    "CiteSources",
    "NotFoundReply",
    "OneReply",
    "ProcessorTools",
    "QuestionScript",
    "SimplifiedReading",
    "SourceNumbers",
    "ValidCitations",
    "build_processors",
]
