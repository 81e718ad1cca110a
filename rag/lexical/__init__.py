"""The knowledge base's lexical side: the tokenizer (`tokenize`: jieba words and character
bigrams for Chinese, stemmed words for English) and an exact BM25 index kept in the
knowledge base's SQLite file (`index`). The store (rag/kb/store.py) owns one index per
knowledge base; retrieval (rag/retrieval/) searches it through the store."""

from rag.lexical.index import LexicalIndex, LexicalResult
from rag.lexical.tokenize import QUESTION_STOPWORDS, Tokenizer

__all__ = ["QUESTION_STOPWORDS", "LexicalIndex", "LexicalResult", "Tokenizer"]
