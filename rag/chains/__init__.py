"""The question-answering chain: retrieve -> numbered context within a budget -> LLM."""

from rag.chains.qa import Answer, ChatEvent, QAChain, Source, build_context, collect_answer

__all__ = ["Answer", "ChatEvent", "QAChain", "Source", "build_context", "collect_answer"]
