"""Retrieval: BM25 (`lexical`), fusion of dense and lexical rankings (`fusion`), their
tokenizer (`tokenize`), and a LangChain retriever over a knowledge base (`kb_retriever`).

Nothing is imported here, so that the knowledge-base store can use the lexical index
without importing the service that the retriever wraps.
"""
