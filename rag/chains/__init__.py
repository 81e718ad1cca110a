"""The question-answering chain: condense -> retrieve -> numbered context within a budget ->
generate -> answer processors -> retry policies."""

from rag.chains.not_found import NOT_FOUND_REPLIES, is_not_found, mentions_not_found
from rag.chains.qa import Answer, ChatEvent, QAChain, collect_answer
from rag.chains.turn import Source, Turn, build_context

__all__ = [
    "NOT_FOUND_REPLIES",
    "Answer",
    "ChatEvent",
    "QAChain",
    "Source",
    "Turn",
    "build_context",
    "collect_answer",
    "is_not_found",
    "mentions_not_found",
]
