"""Milvus's own BM25 as the lexical leg of hybrid search (kbs_config["milvus"]["lexical"]).

"zhiku" (the default): the lexical leg is the knowledge base's BM25 index in its SQLite file
(rag/lexical/), for a Milvus knowledge base as for a FAISS one. "milvus_bm25": each new
collection also gets a BM25 function (`FunctionType.BM25`) from its `text` field, analyzed
as below, into a `sparse` field (`SPARSE_INVERTED_INDEX`, metric BM25, k1 = 1.2 and b =
0.75, fixed when the collection is made; zhiku's own index reads BM25_K1, 0.5 by default, at
search time), and the lexical leg is a search of that field with the query's text: Milvus
tokenizes, counts and scores, on the server when there is one. A collection made without the
field is made anew from SQLite when the knowledge base is opened (`MilvusIndex.ensure`): the
collection is a cache of SQLite, which holds every chunk's text and vector. A server without
the BM25 function (before Milvus 2.5: `supports_bm25`) gets collections without it, and the
lexical leg stays zhiku's (a warning says so).

The analyzer is the same for every knowledge base, whatever its language: Milvus Lite 3.2.2
knows two tokenizers, "standard" (`\\w+`, which keeps a run of Chinese characters whole) and
"jieba", and no multi-language analyzer; jieba cuts Chinese into words (its search mode:
long words also in their shorter parts) and leaves English words whole, so it serves Chinese,
English and mixed text. It is lower-cased, and English stop words and punctuation (which
jieba keeps as tokens) are dropped, as zhiku's tokenizer drops them. Unlike zhiku's
tokenizer, it has no character bigrams and no stemming (BM25_ENGLISH_STEMMING).

Scores: Milvus Lite reports BM25 as a negative distance (lower is better), a server as the
positive score: `bm25_score` takes the magnitude. Milvus Lite computes each segment's BM25
with that segment's own statistics (document count, document frequencies, average length,
deleted rows included until a compaction drops them), a server with statistics gathered over
all its segments (its "idf oracle").

Fusion (rag/retrieval/fusion.py) divides a BM25 score by the query's reference, the sum of
the idf of the query's tokens: Milvus does not report idf, so the store computes it from the
KB's SQLite BM25 index (document frequencies over exactly the stored chunks) for the query's
tokens as this analyzer cuts them (`REFERENCE_MODE`). That index is kept with either setting:
it is also what `rag kb check` compares with SQLite, what the answerability check's word
coverage weighs words with, and the lexical leg of FAISS knowledge bases.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from rag.errors import ConfigError
from rag.lexical.tokenize import ENGLISH_STOPWORDS, TokenizerMode

MILVUS_LEXICAL = ("zhiku", "milvus_bm25")
"""kbs_config["milvus"]["lexical"]'s values."""
SPARSE_FIELD = "sparse"
FUNCTION_NAME = "zhiku_bm25"
BM25_K1 = 1.2
BM25_B = 0.75
"""BM25's textbook values; zhiku's own index (rag/lexical/index.py) uses BM25_K1 (0.5 by
default), measured on the dev gate, which Milvus's BM25 was not."""
REFERENCE_MODE: TokenizerMode = "jieba"
"""How zhiku's tokenizer cuts a query to find the tokens this analyzer gives it."""
_PUNCTUATION = string.punctuation + "，。！？、；：“”‘’（）《》〈〉【】『』「」〔〕…—－～·．"
ANALYZER_PARAMS: dict[str, Any] = {
    "tokenizer": {"type": "jieba", "mode": "search"},
    "filter": [
        "lowercase",
        {"type": "stop", "stop_words": sorted(ENGLISH_STOPWORDS | set(_PUNCTUATION))},
    ],
}
"""The `text` field's analyzer (module doc); Milvus Lite lower-cases jieba's words itself."""


def supports_bm25(version: str) -> bool:
    """Does the Milvus of `version` (`get_server_version`) have the BM25 function? Milvus
    2.5 and later and Milvus Lite 3 do ("milvus_lite-3.2.2"); a version not understood
    (a cloud's own string) is assumed to."""
    lite = version.startswith("milvus_lite-")
    found = re.search(r"(\d+)\.(\d+)", version)
    if found is None:
        return True
    major, minor = int(found.group(1)), int(found.group(2))
    return major >= 3 if lite else (major, minor) >= (2, 5)


def check_lexical(value: str) -> str:
    """`value` when it is one of MILVUS_LEXICAL (ConfigError listing them otherwise)."""
    if value not in MILVUS_LEXICAL:
        raise ConfigError(
            f"kbs_config['milvus']['lexical'] = {value!r} unknown; valid: "
            f"{', '.join(MILVUS_LEXICAL)}"
        )
    return value


def add_bm25_fields(schema: Any) -> None:
    """Add the sparse field and the BM25 function from `text` to a collection `schema`
    whose `text` field was added with `text_field_options()`."""
    from pymilvus import DataType, Function, FunctionType

    schema.add_field(SPARSE_FIELD, DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name=FUNCTION_NAME,
            function_type=FunctionType.BM25,
            input_field_names=["text"],
            output_field_names=[SPARSE_FIELD],
        )
    )


def text_field_options() -> dict[str, Any]:
    """The `text` field's options when BM25 is computed from it."""
    return {"enable_analyzer": True, "analyzer_params": ANALYZER_PARAMS}


def add_bm25_index(params: Any) -> None:
    """The sparse field's index, with zhiku's BM25 parameters."""
    params.add_index(
        field_name=SPARSE_FIELD,
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        # sent as one JSON "params" entry, which a server and Milvus Lite both read: pymilvus
        # 3 sends a flat `params` dict key by key, which Milvus Lite 3.2.2 ignores (it then
        # scored with k1 = 1.5)
        params={"params": {"bm25_k1": BM25_K1, "bm25_b": BM25_B}},
    )


def has_bm25(description: Mapping[str, Any]) -> bool:
    """Does the collection described (`describe_collection`) compute BM25 into its sparse
    field?"""
    return any(
        SPARSE_FIELD in function.get("output_field_names", ())
        for function in description.get("functions") or ()
    )


def bm25_score(distance: float) -> float:
    """The BM25 score of a search hit's distance: Milvus Lite gives -score, a server score."""
    return abs(float(distance))


__all__ = [
    "ANALYZER_PARAMS",
    "BM25_B",
    "BM25_K1",
    "MILVUS_LEXICAL",
    "REFERENCE_MODE",
    "SPARSE_FIELD",
    "add_bm25_fields",
    "add_bm25_index",
    "bm25_score",
    "check_lexical",
    "has_bm25",
    "supports_bm25",
    "text_field_options",
]
