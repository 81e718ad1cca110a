"""Answer quality and first-token time of prompt/context variants, side by side, in-process.

    .venv/bin/python scripts/eval_prompts.py --kb-root /tmp/clikb --kb devset \
        --start 100 --count 60 --variants default,top2,without:one_reply

A variant is a set of settings: configuration keys (lower case, e.g. `prompt_template`) and
keys of the LLM's entry (`vector_search_top_k`, `answer_processors`, `temperature`, ...)
over the configured ones. Each question is retrieved once (the app's hybrid search, as many
results as the variant wanting most needs); every variant then answers it with the app's own
chain built with its settings (`rag.factory.build_qa_chain`: context, prompt, answer
processors, retry policies) over the one loaded LLM, from its share of those results.
`without:NAME` is the default without the answer processor or retry policy NAME. Variants
run interleaved, question by question, so machine load hits them alike. Reported per
variant: answer "contains" and character F1 (the dev set's `run_eval.py` metrics), how often
the reply was the "not found" reply (`rag.chains.is_not_found`), how often the answer has
Simplified-only characters for a Traditional question, median prompt tokens, median
first-token time and median whole-answer time.

Tune on questions the report does not use (the dev set harness answers the first 100):
the default `--start 100` does that.

`--logprobs` (GGUF models) also records the log-probability of every token of each answer
(the model's own distribution, before temperature) and reports, for each pair of variants,
what choosing the more confident of their two answers would score: a test of confidence as a
selector between two ways of asking. With three variants or more it also reports a
majority: the answer most of the others agree with, instead of the first variant's.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda

from rag.chains import QAChain, is_not_found, mentions_not_found
from rag.chains.language import prompt_language, question_language
from rag.chains.script import ScriptConverter
from rag.evaluation import EvalQuestion, answer_scores, load_questions
from rag.factory import build_qa_chain, build_services, context_budget
from rag.llms.base import GENERATION_KEYS
from rag.settings import Settings, load_settings, parse_llm_entry

DEVSET_QUESTIONS = Path("/work/shared/devset/questions/zh_tw.jsonl")

PROMPT_V3 = """Sources:
{context}

Question: {question}

Answer from the sources above, in the language of the question. Write one short sentence \
that gives the answer in the source's own words, then the number of that source in \
brackets, e.g. "... [1]". Only if none of the sources is about the question, reply: \
资料中没有找到答案 (I could not find the answer in the documents)."""

# The instruction first: it is the same for every question, so with the system prompt it
# stays in llama.cpp's cache and only the sources and the question are evaluated.
PROMPT_V2_FIRST = """Answer the question from the sources below, in the language and script of \
the question (Traditional Chinese if it is in Traditional Chinese). Write one short sentence \
that states the answer, then the number of the source it comes from in brackets, e.g. \
"... [1]". Only if none of the sources is about the question, reply: 资料中没有找到答案 (I \
could not find the answer in the documents).

Sources:
{context}

Question: {question}"""


# Names, numbers and dates as the source writes them: the 1.5B otherwise shortens names
# (中國民主建國會 -> 民建) and rewrites numbers (二千 -> 2千).
PROMPT_EXACT = """Sources:
{context}

Question: {question}

Answer the question from the sources above, in the language and script of the question \
(Traditional Chinese if it is in Traditional Chinese). Write one short sentence that states \
the answer, copying names, numbers and dates exactly as the source writes them, then the \
number of the source it comes from in brackets, e.g. "... [1]". Only if none of the sources \
is about the question, reply: 资料中没有找到答案 (I could not find the answer in the \
documents)."""

# The question asked again before the sources, so the model reads them knowing what to look for.


# The supporting sentence copied first, then the answer: small models extract better after
# quoting, and the reader sees the evidence.
PROMPT_QUOTE = """Sources:
{context}

Question: {question}

Answer the question from the sources above, in the language and script of the question \
(Traditional Chinese if it is in Traditional Chinese). First copy the sentence of the \
sources that answers the question, in quotation marks 「」, followed by its source number, \
e.g. 「...」[1]; then state the answer in one short sentence. Only if none of the sources is \
about the question, reply: 资料中没有找到答案 (I could not find the answer in the \
documents)."""

# The same instruction in Chinese.
PROMPT_ZH = """資料：
{context}

問題：{question}

請根據上面的資料回答問題，使用與問題相同的語言和字體（問題是繁體中文就用繁體中文）。用一句簡短的話說出答案，\
人名、數字和日期照資料原文寫，然後在方括號中寫出答案所在資料的編號，例如「……[1]」。只有當所有資料都與問題無關時，\
才回答：资料中没有找到答案"""

# The plain Langchain-Chatchat instruction (answer concisely from the known information,
# say so when it cannot be answered, make nothing up), asking for the source's number too;
# in the question's language.
PROMPT_PLAIN = {
    "zh": """<指令>根据已知信息，简洁和专业地回答问题，\
并在答案后用方括号注明所依据资料的编号，例如“……[1]”。\
如果无法从中得到答案，请说“资料中没有找到答案”，不允许在答案中添加编造成分，\
答案请使用与问题相同的语言和字体。</指令>

<已知信息>{context}</已知信息>

<问题>{question}</问题>""",
    "en": """<instruction>Answer the question concisely and professionally from the known \
information, and give the number of the source it comes from in brackets, e.g. "... [1]". If \
it cannot be answered from it, say "I could not find the answer in the documents". Add \
nothing made up.</instruction>

<known_information>{context}</known_information>

<question>{question}</question>""",
}

# Extractive: the answer is the sources' own sentence, so a long answer (CMRC's are often a
# whole clause) comes back whole instead of paraphrased.
PROMPT_COPY_SENTENCE = """Sources:
{context}

Question: {question}

Answer with the sentence of the sources that answers the question, copied exactly as it is \
written there, then the number of its source in brackets, e.g. "... [1]". Only if none of \
the sources is about the question, reply: 资料中没有找到答案 (I could not find the answer in \
the documents)."""

# Half the instruction's tokens (first-token time): the same rules, fewer words.
PROMPT_SHORT = """Sources:
{context}

Question: {question}

Answer from the sources in one short sentence, in the question's language and script, \
ending with the source number, e.g. "... [1]". If no source is about the question, reply: \
资料中没有找到答案"""

# Asked again without the way out when the model said "not found" but a source scores high.
PROMPT_NO_REFUSAL = """Sources:
{context}

Question: {question}

The answer is in the sources above. Answer the question from them, in the language and \
script of the question (Traditional Chinese if it is in Traditional Chinese). Write one \
short sentence that states the answer, then the number of the source it comes from in \
brackets, e.g. "... [1]"."""


# Worked examples in the system prompt: the same for every question, so they stay in
# llama.cpp's cache with it and cost no first-token time after the first question. Made-up
# documents (not from the dev set), one Chinese and one English, showing names and numbers
# copied as the source writes them and the source number.
SYSTEM_EXAMPLES = """You are zhiku, a helpful assistant. Answer concisely.

Two examples of questions answered from sources:

Sources:
[1] (qingshan.docx) 青山鎮志 > 交通
青山鎮位於河谷東岸。1927年通車的青山鐵路連接鎮上與白沙港，全長四十二公里，由地方商會集資興建。

[2] (qingshan.docx) 青山鎮志 > 物產
鎮上以茶葉與竹器聞名，每年三月舉辦採茶節。

Question: 青山鐵路有多長？
Answer: 青山鐵路全長四十二公里。[1]

Sources:
[1] (marrowby.txt) History of Marrowby > The mill
The Ashford family rebuilt the water mill in 1884 after the Great Flood, and it ground \
flour until 1951.

Question: Who rebuilt the water mill?
Answer: The Ashford family rebuilt it, in 1884. [1]"""


def _without(*names: str) -> Callable[[Settings], tuple[str, ...]]:
    """The configured answer processors (or retry policies) without `names`."""

    def listed(settings: Settings) -> tuple[str, ...]:
        steps = (
            settings.retry_policies if names[0].endswith("_retry") else settings.answer_processors
        )
        return tuple(step for step in steps if step not in names)

    return listed


def _with_simplified_reading(settings: Settings) -> tuple[str, ...]:
    names = [name for name in settings.answer_processors if name != "simplified_reading"]
    at = names.index("question_script") if "question_script" in names else len(names)
    return (*names[:at], "simplified_reading", *names[at:])


def _configured_retry_prompt(settings: Settings) -> object:
    if not settings.answer.retry_prompt_template:
        raise SystemExit("this variant needs RETRY_PROMPT_TEMPLATE to be set")
    return settings.answer.retry_prompt_template


Setting = object | Callable[[Settings], object]
"""A value, or a function of the configured settings giving it."""


@dataclass(frozen=True)
class Variant:
    name: str
    settings: Mapping[str, Setting] = field(default_factory=dict)
    """Configuration keys (lower case) over the configured ones."""
    entry: Mapping[str, Setting] = field(default_factory=dict)
    """Keys of the LLM's entry over its configured ones."""


VARIANTS = {
    # As the app answers.
    "default": Variant("default"),
    "instruction-first": Variant("instruction-first", {"prompt_template": PROMPT_V2_FIRST}),
    "own-words": Variant("own-words", {"prompt_template": PROMPT_V3}),
    "top2": Variant("top2", entry={"vector_search_top_k": 2}),
    "top1": Variant("top1", entry={"vector_search_top_k": 1}),
    "top3-all": Variant("top3-all", entry={"vector_search_top_k": 3, "context_token_budget": None}),
    "tokens150": Variant(
        "tokens150", entry={"vector_search_top_k": 3, "context_token_budget": 150}
    ),
    "tokens250": Variant(
        "tokens250", entry={"vector_search_top_k": 3, "context_token_budget": 250}
    ),
    "examples": Variant("examples", {"system_prompt": SYSTEM_EXAMPLES}),
    "exact": Variant("exact", {"prompt_template": PROMPT_EXACT}),
    "question-twice": Variant(
        "question-twice",
        {
            "prompt_template": lambda s: {
                k: "Question: {question}\n\n" + t for k, t in s.answer.prompt_templates.items()
            }
        },
    ),
    "quote": Variant("quote", {"prompt_template": PROMPT_QUOTE}),
    # the Chinese instruction for every question, and for Chinese questions only
    "zh": Variant("zh", {"prompt_template": PROMPT_ZH}),
    "zh-for-zh": Variant(
        "zh-for-zh",
        {"prompt_template": lambda s: {"zh": PROMPT_ZH, "en": s.answer.prompt_templates["en"]}},
    ),
    "short": Variant("short", {"prompt_template": PROMPT_SHORT}),
    "plain": Variant("plain", {"prompt_template": PROMPT_PLAIN}),
    "copy-sentence": Variant("copy-sentence", {"prompt_template": PROMPT_COPY_SENTENCE}),
    "plain-top3": Variant(
        "plain-top3",
        {"prompt_template": PROMPT_PLAIN},
        entry={"vector_search_top_k": 3, "context_token_budget": None},
    ),
    "retry": Variant("retry", {"retry_prompt_template": PROMPT_NO_REFUSAL, "retry_min_score": 0.0}),
    "no-retry": Variant("no-retry", {"retry_prompt_template": None}),
    "no-echo-retry": Variant("no-echo-retry", {"retry_on_repeated_question": False}),
    # the configured RETRY_PROMPT_TEMPLATE (the source's shortest phrase) as the only prompt,
    # read as written, as the second try is
    "span": Variant(
        "span",
        {"prompt_template": _configured_retry_prompt, "retry_prompt_template": None},
        {"answer_processors": _without("simplified_reading")},
    ),
    "read-simplified": Variant(
        "read-simplified", entry={"answer_processors": _with_simplified_reading}
    ),
    "read-written": Variant(
        "read-written", entry={"answer_processors": _without("simplified_reading")}
    ),
    # decoding: greedy (the most likely token every time) and no repetition penalty (which
    # discourages copying what the prompt's last tokens hold)
    "greedy": Variant("greedy", entry={"temperature": 0.0}),
    "no-penalty": Variant("no-penalty", entry={"repetition_penalty": 1.0}),
    "greedy-no-penalty": Variant(
        "greedy-no-penalty", entry={"temperature": 0.0, "repetition_penalty": 1.0}
    ),
    # the default before 2026-12-05: a repetition penalty of 1.05, no second try on echoes
    "penalty-no-echo-retry": Variant(
        "penalty-no-echo-retry",
        {"retry_on_repeated_question": False},
        {"repetition_penalty": 1.05},
    ),
}
# Gone since the chain itself answers each variant: "best-last", "mark" and "focus" (they
# listed or marked the sources in ways the app does not), and the first measurements'
# "current", "top3", "top3-1000", "v2", "v2-top3", "v3-top3", "v2-top3-s2t",
# "current-s2t" (five sources, 2,000 characters, answers not converted to the question's
# script; "v2" is today's PROMPT_TEMPLATE, "v3" is "own-words").


def variant_named(name: str) -> Variant:
    """A listed variant, or `without:NAME` (the default without one processor or policy)."""
    if name.startswith("without:"):
        step = name.removeprefix("without:")
        key = "retry_policies" if step.endswith("_retry") else "answer_processors"
        return Variant(name, entry={key: _without(step)})
    if name not in VARIANTS:
        raise SystemExit(f"unknown variant {name!r}; valid: {', '.join(VARIANTS)}, without:NAME")
    return VARIANTS[name]


def variant_settings(base: Settings, variant: Variant) -> Settings:
    """`base` with the variant's keys over it, validated as the app validates its own."""

    def value(setting: Setting) -> object:
        return setting(base) if callable(setting) else setting

    entry = parse_llm_entry(
        {**dict(base.models.llm), **{k: value(v) for k, v in variant.entry.items()}}
    )
    top = {k: value(v) for k, v in variant.settings.items()}
    models = {**base.models.llm_model_dict, base.models.llm_model: entry}
    return Settings.model_validate({**dict(base), **top, "llm_model_dict": models})


class FixedRetriever(BaseRetriever):
    """The results retrieved once for a question, cut to one variant's number of them."""

    documents: list[Document]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.documents


@dataclass
class Asker:
    """One variant's chain, and the prompts its model was given for the current answer."""

    variant: Variant
    settings: Settings
    chain: QAChain
    prompts: list[str] = field(default_factory=list)


def asker(variant: Variant, base: Settings, llm: Any) -> Asker:
    """The chain as the app builds it with the variant's settings; its model records the
    prompts and generates with the variant's entry's settings."""
    settings = variant_settings(base, variant)
    chain = build_qa_chain(settings, llm)  # the loaded LLM counts the context's tokens
    made = Asker(variant, settings, chain)
    generation = {key: getattr(settings.models.llm, key) for key in GENERATION_KEYS}

    def record(prompt: Any) -> Any:
        made.prompts.append(prompt.to_string() if hasattr(prompt, "to_string") else str(prompt))
        return prompt

    chain.llm = RunnableLambda(record) | llm.bind(**generation)
    return made


@dataclass
class Tally:
    contains: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    not_found: int = 0
    simplified: int = 0
    prompt_tokens: list[int] = field(default_factory=list)
    first_token_s: list[float] = field(default_factory=list)
    total_s: list[float] = field(default_factory=list)
    rows: list[dict[str, object]] = field(default_factory=list)
    mean_logprob: list[float] = field(default_factory=list)  # --logprobs

    def add(
        self, q: EvalQuestion, reply: Reply, made: Asker, llm: Any, logprobs: list[TokenLogprobs]
    ) -> None:
        """One variant's reply to `q`."""
        converter = ScriptConverter()
        _em, f1, contains = answer_scores(reply.answer, q.answers)
        # the answer's last call is the answer (the warm-up call comes before it)
        confidence = statistics.mean(logprobs[-1].values or [0.0]) if logprobs else 0.0
        self.mean_logprob.append(confidence)
        self.contains.append(contains)
        self.f1.append(f1)
        self.not_found += is_not_found(reply.answer, made.settings.answer)
        traditional = converter.script_of(q.question) == "traditional"
        self.simplified += traditional and converter.has_simplified_only(reply.answer)
        llama = getattr(llm, "_llama", None)
        if llama is not None and made.prompts:
            self.prompt_tokens.append(len(llama.tokenize(made.prompts[0].encode())))
        self.first_token_s.append(reply.first_s)
        self.total_s.append(reply.total_s)
        self.rows.append(
            {
                "question": q.question,
                "answer": reply.answer,
                "gold": q.answers,
                "c": contains,
                "top_score": round(reply.top_score, 3),
                "retried": len(made.prompts) > 1,
                "replaced": reply.replaced,
                "mean_logprob": round(confidence, 4) if logprobs else None,
            }
        )
        print(
            f"  {made.variant.name}: {contains:.0f} {reply.first_s:.1f}s "
            f"{reply.answer[:80]!r} gold={q.answers}",
            file=sys.stderr,
            flush=True,
        )


class TokenLogprobs:
    """Records the log-probability of each token llama.cpp samples (`--logprobs`), through a
    logits processor: each step sees the logits of the next token, and the token sampled at
    the step before is the last of the context by then."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self._previous: np.ndarray | None = None

    def __call__(self, input_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        if self._previous is not None:
            self.values.append(float(self._previous[int(input_ids[-1])]))
        x = np.asarray(logits, dtype=np.float64)
        top = x.max()
        self._previous = x - top - np.log(np.exp(x - top).sum())
        return logits


@contextlib.contextmanager
def recording_logprobs(llama: Any, record: list[TokenLogprobs]) -> Iterator[None]:
    """While open, every chat completion of `llama` appends its `TokenLogprobs` to `record`."""
    from llama_cpp import LogitsProcessorList

    original = llama.create_chat_completion

    def create_chat_completion(*args: object, **kwargs: object) -> object:
        recorder = TokenLogprobs()
        record.append(recorder)
        return original(*args, logits_processor=LogitsProcessorList([recorder]), **kwargs)

    llama.create_chat_completion = create_chat_completion
    try:
        yield
    finally:
        del llama.create_chat_completion


def confidence_selection(tallies: dict[str, Tally]) -> list[str]:
    """Markdown lines: for each pair of variants, "contains" when each question takes the
    answer with the higher mean token log-probability (and the oracle: either right)."""
    lines = ["", "| more confident of | contains | either right |", "|---|---:|---:|"]
    for (a, ta), (b, tb) in itertools.combinations(tallies.items(), 2):
        pairs = list(zip(ta.contains, ta.mean_logprob, tb.contains, tb.mean_logprob, strict=True))
        picked = [cb if lb > la else ca for ca, la, cb, lb in pairs]
        either = [max(ca, cb) for ca, _la, cb, _lb in pairs]
        lines.append(
            f"| {a}, {b} | {100 * statistics.mean(picked):.1f} | "
            f"{100 * statistics.mean(either):.1f} |"
        )
    return lines


ANSWER_PUNCTUATION = re.compile(r"\[\d+\]|[\s。，,.!?？！:：;；、\"'“”「」《》()（）]")


def added_bigrams(answer: str, question: str) -> set[str]:
    """The character bigrams `answer` adds to `question` (none for a "not found" reply)."""
    if mentions_not_found(answer):
        return set()

    def bigrams(text: str) -> set[str]:
        text = ANSWER_PUNCTUATION.sub("", text)
        return {text[i : i + 2] for i in range(len(text) - 1)} or ({text} if text else set())

    return bigrams(answer) - bigrams(question)


def agreement(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def majority_selection(tallies: dict[str, Tally], least: float = 0.5) -> list[str]:
    """Markdown lines: "contains" when each question takes the answer that agrees most with
    the other variants' answers (on what it adds to the question) instead of the first
    variant's, where the first's agreement is below `least` and the other's is not."""
    names = list(tallies)
    picked = []
    for rows in zip(*(tallies[name].rows for name in names), strict=True):
        added = [added_bigrams(str(row["answer"]), str(row["question"])) for row in rows]
        support = [
            sum(agreement(added[i], added[j]) for j in range(len(rows)) if j != i)
            for i in range(len(rows))
        ]
        best = 0
        for i in range(1, len(rows)):
            if support[0] < least <= support[i] and support[i] > support[best]:
                best = i
        picked.append(float(rows[best]["c"]))  # type: ignore[arg-type]
    either = [max(t) for t in zip(*(tallies[name].contains for name in names), strict=True)]
    return [
        "",
        "| majority of | contains | one right |",
        "|---|---:|---:|",
        f"| {', '.join(names)} | {100 * statistics.mean(picked):.1f} | "
        f"{100 * statistics.mean(either):.1f} |",
    ]


@dataclass
class Reply:
    answer: str
    first_s: float
    total_s: float
    replaced: bool
    """The answer shown first was replaced (a second try after it repeated the question)."""
    top_score: float


def ask(made: Asker, question: str, documents: list[Document], llm: Any) -> Reply:
    """The variant's answer, its first-token and total seconds. As in the app, only the
    prompt's fixed beginning is in llama.cpp's cache: the cache is reset, then a 1-token
    answer to the template with an empty context and question puts it there (untimed)."""
    llama = getattr(llm, "_llama", None)
    if llama is not None:
        language = prompt_language(question_language(question, made.chain.converter))
        llama.reset()
        system = made.settings.system_prompts[language]
        fixed = made.chain.prompts[language].format(context="", question="")
        llm.invoke(fixed, max_new_tokens=1, system_prompt=system)
    if hasattr(llm, "system_prompt"):  # our LLMs (a test's fake has none)
        llm.system_prompt = made.settings.system_prompts["en"]
    made.prompts.clear()
    retriever = FixedRetriever(documents=documents[: made.settings.answer_top_k])
    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    replaced = False
    for event in made.chain.stream(question, retriever):
        if event.kind == "token":
            first = time.perf_counter() - started if first is None else first
            parts.append(event.text)
        elif event.kind == "replace":
            parts, replaced = [event.text], True
    total = time.perf_counter() - started
    top_score = float(documents[0].metadata.get("score", 0.0)) if documents else 0.0
    return Reply("".join(parts), first or total, total, replaced, top_score)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-root", type=Path, required=True)
    parser.add_argument("--kb", required=True)
    parser.add_argument("--questions", type=Path, default=DEVSET_QUESTIONS)
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--variants", default="default")
    parser.add_argument("--out", type=Path, default=Path("eval_prompts.json"))
    parser.add_argument(
        "--logprobs", action="store_true", help="record answers' token log-probabilities (gguf)"
    )
    args = parser.parse_args()

    settings = load_settings()
    variants = [variant_named(name) for name in args.variants.split(",")]
    services = build_services(settings, kb_root=args.kb_root)
    llm = services.llm
    askers = [asker(variant, settings, llm) for variant in variants]
    logprobs: list[TokenLogprobs] = []
    recording: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if args.logprobs:
        llm.invoke("Hi", max_new_tokens=1)  # loads the model
        llama = getattr(llm, "_llama", None)
        if llama is None:
            raise SystemExit("--logprobs needs a gguf model (llama-cpp-python)")
        recording = recording_logprobs(llama, logprobs)
    questions = load_questions(args.questions)[args.start : args.start + args.count]
    tallies = {v.name: Tally() for v in variants}
    retriever = services.retriever(args.kb)
    retriever.top_k = max(made.settings.answer_top_k for made in askers)
    with recording:
        for number, q in enumerate(questions, 1):
            documents = retriever.invoke(q.question)
            for made in askers:
                tally = tallies[made.variant.name]
                tally.add(q, ask(made, q.question, documents, llm), made, llm, logprobs)
            line = " ".join(f"{n}={statistics.mean(t.contains):.2f}" for n, t in tallies.items())
            print(f"[{number}/{len(questions)}] {line}", file=sys.stderr, flush=True)
    print_report(askers, tallies, args.out, bool(args.logprobs))
    return 0


def print_report(askers: list[Asker], tallies: dict[str, Tally], out: Path, logprobs: bool) -> None:
    print(
        "| variant | top k | budget | contains | F1 | not found | simplified | "
        "prompt tokens p50 | first token p50 s | answer p50 s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    report = {}
    for made in askers:
        variant = made.variant
        t = tallies[variant.name]
        row = {
            "contains": round(100 * statistics.mean(t.contains), 1),
            "f1": round(100 * statistics.mean(t.f1), 1),
            "not_found": t.not_found,
            "simplified": t.simplified,
            "prompt_tokens_p50": statistics.median(t.prompt_tokens) if t.prompt_tokens else None,
            "first_token_p50_s": round(statistics.median(t.first_token_s), 2),
            "answer_p50_s": round(statistics.median(t.total_s), 2),
        }
        report[variant.name] = {**row, "rows": t.rows}
        print(
            f"| {variant.name} | {made.settings.answer_top_k} | {context_budget(made.settings)} "
            f"| {row['contains']} | "
            f"{row['f1']} | {row['not_found']} | {row['simplified']} | "
            f"{row['prompt_tokens_p50']} | {row['first_token_p50_s']} | {row['answer_p50_s']} |"
        )
    if logprobs and len(tallies) > 1:
        print("\n".join(confidence_selection(tallies)))
    if len(tallies) > 2:
        print("\n".join(majority_selection(tallies)))
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
