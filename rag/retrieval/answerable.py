"""Does a knowledge base hold the answer at all? Decided before the model is asked.

Small models answer a question about something the documents never mention from what they
know (the shipped 1.5B refused 1 off-topic question in 5 on the dev set), and relevance
alone cannot tell such a question from an answerable one: an off-topic question still finds
passages of the same kind. Two signals together do, on all three dev languages:

* `cosine`: the best dense cosine between the question and a chunk;
* `coverage`: the share of the question's words, weighted by their rarity (BM25's idf), that
  the best chunk contains; a word the knowledge base never uses weighs as the rarest, since
  that is what an off-topic question is about ("巴吞他尼府").

The question is answered only when `cosine + coverage_weight * coverage` reaches `min_score`.
Cosines are the embedding model's own, so both numbers belong to its entry in
`embedding_model_dict` (README "Off-topic questions" has the measurements).

Near `min_score` the two kinds of question overlap. Within `margin` of it the check may
leave the decision to the model instead ("ask": the chain asks the model whether the
sources answer the question, rag/chains/confirm.py), when the model can be asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Decision = Literal["answer", "refuse", "ask", "ask-below"]
"""By the threshold; or left to the model, the score at or above it ("ask") or below it."""

ANSWERABILITY_KEY = "answerability"
"""The metadata key of retrieved documents the check left to the model ("ask" or
"ask-below": a chain that cannot ask the model follows the threshold)."""

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def without_cjk(text: str) -> bool:
    """True for a text without Chinese or Japanese characters (an English question)."""
    return _CJK.search(text) is None


@dataclass(frozen=True)
class Relevance:
    """How well a knowledge base's best results match a question."""

    cosine: float
    """The best dense cosine among the results."""
    coverage: float
    """The idf-weighted share of the question's words the best result contains, in [0, 1]."""


@dataclass(frozen=True)
class AnswerabilityCheck:
    """Refuses before generating when the results cannot hold an answer (module doc)."""

    min_score: float
    """`cosine + coverage_weight * coverage` below this: no answer is attempted."""
    coverage_weight: float = 0.2
    """How much the word coverage counts next to the cosine."""
    latin_min_score: float | None = None
    """`min_score` for a question without Chinese or Japanese characters (None: the same).
    Its coverage counts whole words, a Chinese one's character pairs, so the sums differ."""

    margin: float = 0.0
    """Scores within this of the threshold are "ask": the model decides (0: never)."""
    latin_margin: float | None = None
    """`margin` for a question without Chinese or Japanese characters (None: the same)."""

    def score(self, relevance: Relevance) -> float:
        return relevance.cosine + self.coverage_weight * relevance.coverage

    def min_score_for(self, question: str) -> float:
        if self.latin_min_score is None or not without_cjk(question):
            return self.min_score
        return self.latin_min_score

    def margin_for(self, question: str) -> float:
        if self.latin_margin is None or not without_cjk(question):
            return self.margin
        return self.latin_margin

    def answerable(self, relevance: Relevance, question: str = "") -> bool:
        return self.score(relevance) >= self.min_score_for(question)

    def decision(self, relevance: Relevance, question: str = "") -> Decision:
        """ "answer" or "refuse" by the threshold; "ask" or "ask-below" within the margin."""
        distance = self.score(relevance) - self.min_score_for(question)
        if abs(distance) < self.margin_for(question):
            return "ask" if distance >= 0 else "ask-below"
        return "answer" if distance >= 0 else "refuse"
