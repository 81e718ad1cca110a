"""Asking the model whether the sources answer a question, when relevance cannot tell.

The answerability check (rag/retrieval/answerable.py) refuses a question whose best passage
scores below a threshold. Near it, answerable and off-topic questions overlap: English ones
especially, whose short passages of the same kind score alike. There the check leaves the
decision to the model: it reads the same sources and question as for the answer and is asked
a yes-or-no question; the chat answers only when "Yes" gets at least `min_yes` of the
probability of its first token. The prompt begins as the answer's prompt does, so llama.cpp
evaluates the sources once for both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from rag.chains.turn import Turn

logger = logging.getLogger(__name__)

CONFIRM_TEMPLATE = """Sources:
{context}

Question: {question}

Does one of the sources above answer this question? Reply Yes or No."""


class YesNoModel(Protocol):
    """A model that tells how sure it is that its reply begins with "Yes"."""

    def yes_probability(self, prompt: str, system_prompt: str | None = None) -> float | None: ...


@dataclass(frozen=True)
class AnswerConfirmation:
    """The model's yes-or-no judgement on a question the check left to it."""

    model: YesNoModel
    min_yes: float
    """The least P(Yes) / (P(Yes) + P(No)) for the question to be answered."""
    template: str = CONFIRM_TEMPLATE
    """The question put to the model, with {context} and {question}."""

    def confirms(self, turn: Turn, system_prompt: str | None = None) -> bool:
        """Whether the sources of `turn` answer its question, as the model judges; True
        when the model cannot tell (no token probabilities): the question is answered."""
        prompt = self.template.format(context=turn.read_context, question=turn.read_question)
        yes = self.model.yes_probability(prompt, system_prompt)
        logger.info("the model's P(yes) that the sources answer: %s (min %s)", yes, self.min_yes)
        return yes is None or yes >= self.min_yes


__all__ = ["CONFIRM_TEMPLATE", "AnswerConfirmation", "YesNoModel"]
