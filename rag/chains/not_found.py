"""Is a reply the app's "not found" reply?

One answer for everything that needs it: the chain's second try (which watches the stream
with the same `begins_with_refusal`) and the scripts that count refusals (`scripts/
devgate.py`), so that a measured refusal rate means what the app means by a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from rag.chains.qa import NOTHING_FOUND
from rag.chains.retry import begins_with_refusal, refusal_fold
from rag.chains.script import ScriptConverter
from rag.settings import Settings


@cache
def _fold() -> Callable[[str], str]:
    # as the factory folds for the chain: the 1.5B mixes scripts within a refusal, and the
    # answer is converted to the question's script as it streams
    return refusal_fold(ScriptConverter())


def not_found_replies(settings: Settings) -> tuple[str, ...]:
    """How a "not found" reply begins: NOT_FOUND_PREFIXES (what the prompts ask the model to
    reply) and the chain's own reply when nothing was retrieved."""
    return (*settings.not_found_prefixes, NOTHING_FOUND)


def is_not_found(text: str, settings: Settings) -> bool:
    """Whether `text` is the "not found" reply, in either Chinese script and any case."""
    return begins_with_refusal(text, not_found_replies(settings), _fold())


def mentions_not_found(text: str, settings: Settings) -> bool:
    """Whether the "not found" text appears anywhere in `text`: an answer with the refusal
    appended ("… [1] (I could not find the answer in the documents)") mentions it without
    being it."""
    folded = _fold()(text)
    return any(_fold()(reply) in folded for reply in not_found_replies(settings) if reply)
