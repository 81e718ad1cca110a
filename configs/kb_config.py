"""How knowledge bases are stored, split and searched, and how the prompt reads.

Plain data only; read once at start-up. Override with `ZHIKU_<NAME>` environment variables.
"""

# Where knowledge bases live: <KB_ROOT_PATH>/<kb name>/{content,vector_store}/.
# A relative path is taken from the directory zhiku is started in.
KB_ROOT_PATH = "knowledge_base"

# PDF tables (ruled ones: lines or cell borders) read as rows with their header, as XLSX and
# DOCX tables are ("Product: Widget; Price: 12"), so a question about one row finds it.
# Only pages that draw lines or rectangles pay for it (pdfplumber, several times slower per
# page than the plain text reader; README "File types"). False: such pages as loose words.
PDF_TABLES = True

# How documents are cut into chunks: "chinese_recursive" (sentence ends in Chinese and
# English kept with their sentence) or "recursive" (LangChain's plain splitter).
TEXT_SPLITTER = "chinese_recursive"

# Put each chunk's heading path (document title > section) in front of its text, so a
# chunk that says "it was founded in 1928" still names what "it" is.
CHUNK_TITLE_PREFIX = True

# Characters per chunk, and characters shared by neighbouring chunks.
CHUNK_SIZE = 250
OVERLAP_SIZE = 50
# How much a character that is not Chinese (or Japanese, Korean) counts in those sizes: at
# 1/3 an English chunk holds ~750 characters, about as many tokens as 250 Chinese characters.
# English dev set hit@1 / hit@5: 72.2 / 89.2 at 1, 83.6 / 95.0 at 0.33; zh 89.8 -> 90.4,
# zh_tw 95.8 -> 96.0 (mixed-in Latin words). README "Chunking".
CHUNK_NARROW_CHAR_WEIGHT = 0.33

# How many chunks a search returns, and how many go into the prompt. Measured with the 1.5B
# default (scripts/eval_prompts.py, dev-set questions 100-139): top 3 instead of 5 answered
# 72.5 % instead of 57.5 % ("contains") with 675 prompt tokens instead of 1,003 (first token
# 0.62x); the answer is in the top 3 for 98.6 % of the dev set's questions (top 5: 99.2 %).
VECTOR_SEARCH_TOP_K = 3

# How chunks are found: "hybrid" (dense vectors + BM25 over jieba words and character
# bigrams, fused), "dense" or "lexical". Measured on the dev set: see README "Quality".
SEARCH_MODE = "hybrid"

# Hybrid fusion: "weighted" (a weighted sum of calibrated scores; measured best) or "rrf"
# (reciprocal-rank fusion); the dense share of the fused score (an embedding entry's
# dense_weight_latin, in model_config.py, gives questions without Chinese characters their own).
FUSION_METHOD = "weighted"
FUSION_DENSE_WEIGHT = 0.4

# BM25 on English words: stop words are always dropped; stemming ("engines" -> "engin")
# is a switch. Measured (README "Three languages"): +0.8 hit@1 on SQuAD (within noise), -10
# on tests/data/english_kb, whose questions paraphrase the text. Off.
BM25_ENGLISH_STEMMING = False

# BM25's k1: how fast a word's score saturates with its count in a chunk. Low, so that a
# chunk naming the document's subject five times does not outrank the chunk that holds the
# detail asked for (README "Three languages": hit@1 up on all three dev languages).
# Read at search time: no re-indexing. 1.2 is the textbook value.
BM25_K1 = 0.5

# Candidates taken from each retriever before fusing.
SEARCH_CANDIDATES = 50

# The dense index: "auto" (exact search below 200,000 chunks, an IVF index from there on,
# rebuilt as the knowledge base grows past it, and back to exact below 100,000), "flat"
# (always exact) or "ivf" (IVF from 1,000 chunks). Measured one query at a time, 384 dims
# (scripts/bench_search.py): exact 6 ms at 100k chunks, 62 ms at 1M; IVF 32 ms at 1M with
# recall@10 0.98 against exact.
VECTOR_INDEX = "auto"

# Where new knowledge bases keep their dense index: "faiss" (a file in the KB folder, sized by
# VECTOR_INDEX) or "milvus" (one collection per knowledge base, in kbs_config["milvus"]).
# Each knowledge base records its own; `rag kb migrate NAME --to milvus` (or `--to faiss`)
# moves one without embedding anything again. SQLite keeps the vectors either way.
DEFAULT_VS_TYPE = "faiss"

# Options per vector store, as Langchain-Chatchat's kbs_config. Milvus "uri": a local file
# ending in .db runs Milvus Lite inside the app (relative: under KB_ROOT_PATH; one process
# may open it at a time, so stop the app before `rag kb ...` commands); "http://host:19530"
# talks to Milvus standalone or Zilliz Cloud, with "token" ("user:password" or an API key)
# and "db_name" (never run here: only Milvus Lite was tested). Milvus "lexical": the BM25 leg
# of hybrid search for knowledge bases in Milvus: "zhiku" (the KB's own BM25 index in its
# SQLite file, as with FAISS) or "milvus_bm25" (Milvus's BM25 function over each chunk's
# text, jieba-analyzed, searched in Milvus; collections made without it are made anew from
# SQLite when opened; Milvus before 2.5 has none and keeps "zhiku"). README "Milvus".
kbs_config = {
    "faiss": {},
    "milvus": {"uri": ".milvus/milvus.db", "token": "", "db_name": "", "lexical": "zhiku"},
}

# Relevance scores are in [0, 1], higher = more relevant; results below this are dropped.
# 0 keeps everything.
SCORE_THRESHOLD = 0.0

# Second-stage reranking: a cross-encoder reads the question with each of the top
# RERANKER_TOP_N fused candidates and reorders them; the score shown (and the one
# SCORE_THRESHOLD applies to) is then the reranker's, in [0, 1]. RERANKER_MODEL is a hub id
# (loaded from the local Hugging Face cache: nothing is downloaded), a model folder, or
# "package:<module>/<sub/path>". Runs on EMBEDDING_DEVICE; about one model pass per
# candidate, so on a CPU keep RERANKER_TOP_N small.
USE_RERANKER = False
RERANKER_MODEL = "BAAI/bge-reranker-base"
RERANKER_TOP_N = 20

# At most this many characters of retrieved text go into the prompt (the model's context
# window caps it further).
CONTEXT_CHAR_BUDGET = 2000

# Widen each retrieved chunk with the chunk after and before it (same file), overlap removed,
# while the retrieved text stays within CONTEXT_CHAR_BUDGET (hits first). Measured (answer
# inside the context, top 5, budget 2000): dev set 496 -> 497 of 500, English set 28 -> 28 of
# 30, for ~70% more prompt text; it helps most with a small top-k (top 3: 493 -> 495).
MERGE_NEIGHBOURS = False

# Answer a Chinese question in its own script: small models often slip into Simplified
# characters when asked in Traditional (6 of 100 dev-set answers), so the answer is converted
# with OpenCC (phrase-aware, Taiwan standard) as it streams. A question without script-specific
# characters follows the retrieved text's script. The "question_script" answer processor of
# the model entry (configs/model_config.py); False takes it out for every model.
MATCH_QUESTION_SCRIPT = True

# Largest upload accepted, per file, in megabytes.
MAX_UPLOAD_MB = 100

# {context} holds the numbered sources, {question} the question (with recent turns).
# Measured on Qwen2.5-Coder 0.5B/1.5B: instructions after the sources, in English, and an
# explicit answer-then-cite shape; a Chinese-first variant made the small models reply with
# a bare "[1]". Asking to refuse only when no source is about the question (instead of "if
# the sources do not contain the answer") halved the wrong refusals (scripts/eval_prompts.py,
# dev-set questions 100-139, 1.5B: 9 -> 4 of 40). One template per language of the question
# may be given instead: {"zh": "...", "en": "..."} (both Chinese scripts use "zh"), each with
# {context} and {question}. The "not found" reply asked for here is shown to the user as the
# app's own, in the question's language (the "not_found_reply" answer processor).
# The English one names its refusal in English only: with the Chinese words in it, the 1.5B
# answered 5 of 25 English dev questions in Chinese.
PROMPT_TEMPLATE = {
    "zh": """Sources:
{context}

Question: {question}

Answer the question from the sources above, in the language and script of the question \
(Traditional Chinese if it is in Traditional Chinese). Write one short sentence that states \
the answer, then the number of the source it comes from in brackets, e.g. "... [1]". Only if \
none of the sources is about the question, reply: 资料中没有找到答案 (I could not find the \
answer in the documents).""",
    "en": """Sources:
{context}

Question: {question}

Answer the question from the sources above, in English. Write one short sentence that states \
the answer, then the number of the source it comes from in brackets, e.g. "... [1]". Only if \
none of the sources is about the question, reply: I could not find the answer in the \
documents.""",
}

# Asked once more when the answer to PROMPT_TEMPLATE is the "not found" reply (see
# NOT_FOUND_PREFIXES) although the best source scores at least RETRY_MIN_SCORE: small
# models refuse on text that holds the answer, and asked for the source's own phrase they
# often find it (the 1.5B: 8 of 12 such refusals on dev-set questions 100-199, 70 -> 78 %
# answered; English check 60 -> 73 %; README "Prompt and context"). The refusal is never
# shown when the second try replaces it. Below 0.35 the sources are rarely about the
# question (a Chinese question on an English KB scores ~0); above it, relevance alone
# cannot tell answerable from off-topic on short English chunks (answerable 0.26-0.74,
# off-topic 0.38-0.60 on the English check). None: no second try. Asked when one of the model
# entry's retry_policies says so ("refusal_retry", "echo_retry"); per language like
# PROMPT_TEMPLATE.
RETRY_PROMPT_TEMPLATE = {
    "zh": """Sources:
{context}

Question: {question}

Answer with the words of the sources: copy the shortest phrase of a source that answers \
the question exactly as it is written there, then the number of that source in brackets, \
e.g. "... [1]". Only if none of the sources is about the question, reply: 资料中没有找到答案 \
(I could not find the answer in the documents).""",
    "en": """Sources:
{context}

Question: {question}

Answer with the words of the sources: copy the shortest phrase of a source that answers \
the question exactly as it is written there, then the number of that source in brackets, \
e.g. "... [1]". Only if none of the sources is about the question, reply: I could not find \
the answer in the documents.""",
}
RETRY_MIN_SCORE = 0.35
# Also ask RETRY_PROMPT_TEMPLATE when the answer only repeats the question (at least half of
# it, and nothing else): the 1.5B does so for about one question in thirty. The repeated
# question has been streamed by then; the chat replaces it with the second try's answer
# (a "replace" event in the streaming API). False takes "echo_retry" out for every model.
RETRY_ON_REPEATED_QUESTION = True
# Under an answer, the sentence of the source it rests on, quoted as the document writes it
# ("> ...  [n]"): the model's answer is often a fragment of the clause asked for, or the
# span next to the right one; the quote shows the evidence whole (the sentences in a row
# the answer is drawn from; a sentence opening with 同年 / 它 / This… with the one before;
# of sentences holding about as much of the answer, the one naming what the question asks).
# Not under a "not found" reply, nor when the answer holds it word for word. README "The
# dev gate".
QUOTE_SOURCE_SENTENCE = True
# A question the knowledge base cannot answer as asked, whose nearest passages are in the
# other language (an English question about Chinese documents, or the reverse), is
# translated by the LLM and searched again ("Searched as: ..." under the answer); the answer
# stays in the question's language. The shipped embedding matches across languages too
# weakly to answer from. README "Questions in the other language".
TRANSLATE_QUESTIONS = True
# The "not found" reply the prompts above ask for (资料中没有找到答案 / 資料中沒有找到答案 /
# I could not find the answer) is the app's own, written once in rag/chains/not_found.py and
# always recognised (and shown in the question's language) in any case and mixed scripts.
# A prompt asking for another wording lists how that reply begins, in each script it may
# come in, e.g. ["无可奉告", "無可奉告"].
NOT_FOUND_PREFIXES = []

# The system message of every chat with the model, answers from a knowledge base included;
# one per language of the question ({"zh": ..., "en": ...}, both Chinese scripts use "zh"
# unless a "zh-Hans" or "zh-Hant" key gives one its own), or one for all. A model entry's
# own "system_prompt" (configs/model_config.py) wins.
SYSTEM_PROMPT = "You are zhiku, a helpful assistant. Answer concisely."

# OCR (RapidOCR: PP-OCR models for Chinese and English inside the rapidocr-onnxruntime
# package, no download). Images (.png .jpg .jpeg .bmp .tif .tiff .webp) are read by OCR;
# so are PDF pages without a text layer (scans), and pages where an image covers at least
# PDF_OCR_THRESHOLD of the page's (width, height) and the text layer does not cover it (as
# Langchain-Chatchat's PDF_OCR_THRESHOLD). False: images are refused, scanned PDFs keep only
# the pages with a text layer. README "OCR" has the measured speed and accuracy.
OCR_ENABLED = True
PDF_OCR_THRESHOLD = (0.6, 0.6)
# OCR runs in worker processes, so the app keeps answering while scans are read; each
# worker loads the models (~150 MB) and uses cores / OCR_WORKERS threads.
OCR_WORKERS = 1
# Refused before OCR starts: files with more pages (or TIFF frames) to read than this, and
# images with more pixels (width x height; a 600 dpi A4 scan is 35 million).
OCR_MAX_PAGES = 500
OCR_MAX_PIXELS = 50_000_000
