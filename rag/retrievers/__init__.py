"""Retrieval: fusion of dense and lexical rankings (`fusion`), reranking (`rerank`), and a
LangChain retriever over a knowledge base (`kb_retriever`). The lexical index and its
tokenizer are the store's own (rag/lexical/)."""
