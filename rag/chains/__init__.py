"""The question-answering chain: retrieve -> numbered context within a budget -> LLM."""

from rag.chains.qa import ChatEvent, QAChain, Source, build_context, collect_answer

__all__ = ["ChatEvent", "QAChain", "Source", "build_context", "collect_answer"]
