"""Answer quality and first-token time of prompt/context variants, side by side, in-process.

    .venv/bin/python scripts/eval_prompts.py --kb-root /tmp/clikb --kb devset \
        --start 100 --count 60 --variants current,top3

Each question is retrieved once (the app's hybrid search); every variant then builds its own
context and prompt and the configured LLM answers it. Variants run interleaved, question by
question, so machine load hits them alike. Reported per variant: answer "contains" and
character F1 (the dev set's `run_eval.py` metrics), how often the model said it found nothing,
how often the answer has Simplified-only characters for a Traditional question, median
prompt tokens, median first-token time and median whole-answer time.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.prompts import PromptTemplate
from langchain_core.retrievers import BaseRetriever

from rag.chains.qa import build_context, format_context
from rag.chains.reading import Reading, simplified_reading
from rag.chains.retry import refusal_fold, repeats_question
from rag.chains.script import Script, ScriptConverter, answer_script, kept_characters
from rag.evaluation import EvalQuestion, answer_scores, load_questions
from rag.factory import build_services, context_budget
from rag.retrievers.tokenize import QUESTION_STOPWORDS, Tokenizer
from rag.settings import Settings, load_settings

DEVSET_QUESTIONS = Path("/work/shared/devset/questions/zh_tw.jsonl")
NOT_FOUND_MARKERS = ("没有找到", "沒有找到", "could not find")

PROMPT_V2 = """Sources:
{context}

Question: {question}

Answer the question from the sources above, in the language and script of the question \
(Traditional Chinese if it is in Traditional Chinese). Write one short sentence that states \
the answer, then the number of the source it comes from in brackets, e.g. "... [1]". Only if \
none of the sources is about the question, reply: 资料中没有找到答案 (I could not find the \
answer in the documents)."""


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
PROMPT_QUESTION_TWICE = "Question: {question}\n\n" + PROMPT_V2

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


@dataclass(frozen=True)
class Variant:
    name: str
    top_k: int
    budget: int
    template: str | None = None  # None: the configured PROMPT_TEMPLATE
    convert_script: bool = False
    # The second try after a "not found" reply (when the best source scores >= retry_refusal):
    # None the configured RETRY_PROMPT_TEMPLATE / RETRY_MIN_SCORE, "" no second try.
    retry_refusal: float | None = None
    retry_template: str | None = None
    retry_prompt_only: bool = False  # the configured RETRY_PROMPT_TEMPLATE as the prompt
    best_last: bool = False  # sources listed in reverse, the best nearest the question
    system_prompt: str | None = None  # None: the configured SYSTEM_PROMPT
    token_budget: int = 0  # tokens of retrieved text: 0 the LLM entry's, -1 no limit
    # "mark": the source sentence sharing most words with the question in **bold**;
    # "focus": only that sentence and its neighbours
    focus: str = ""
    # the sources and question given in Simplified script; None: the LLM entry's
    # read_chinese_as decides
    read_simplified: bool | None = None
    # the second try also when the answer only repeats the question; None: as configured
    retry_on_echo: bool | None = None
    # generation settings for this variant's answers (e.g. temperature), over the entry's
    generation: tuple[tuple[str, float], ...] = ()


VARIANTS = {
    # As the app answers: the configured top k, prompt and script conversion (top_k 0 = the
    # configured VECTOR_SEARCH_TOP_K; the context budget is the configured one too).
    "default": Variant("default", 0, 0, None, convert_script=True),
    "instruction-first": Variant("instruction-first", 0, 0, PROMPT_V2_FIRST, convert_script=True),
    "top2": Variant("top2", 2, 0, None, convert_script=True),
    "top1": Variant("top1", 1, 0, None, convert_script=True),
    "top3-all": Variant("top3-all", 3, 0, None, convert_script=True, token_budget=-1),
    "tokens150": Variant("tokens150", 3, 0, None, convert_script=True, token_budget=150),
    "tokens250": Variant("tokens250", 3, 0, None, convert_script=True, token_budget=250),
    "examples": Variant("examples", 0, 0, None, convert_script=True, system_prompt=SYSTEM_EXAMPLES),
    "exact": Variant("exact", 0, 0, PROMPT_EXACT, convert_script=True),
    "question-twice": Variant("question-twice", 0, 0, PROMPT_QUESTION_TWICE, convert_script=True),
    "quote": Variant("quote", 0, 0, PROMPT_QUOTE, convert_script=True),
    "zh": Variant("zh", 0, 0, PROMPT_ZH, convert_script=True),
    "short": Variant("short", 0, 0, PROMPT_SHORT, convert_script=True),
    "best-last": Variant("best-last", 0, 0, None, convert_script=True, best_last=True),
    "retry": Variant(
        "retry",
        0,
        0,
        None,
        convert_script=True,
        retry_refusal=0.0,
        retry_template=PROMPT_NO_REFUSAL,
    ),
    "no-retry": Variant("no-retry", 0, 0, None, convert_script=True, retry_template=""),
    "no-echo-retry": Variant("no-echo-retry", 0, 0, None, convert_script=True, retry_on_echo=False),
    # the configured RETRY_PROMPT_TEMPLATE (the source's shortest phrase) as the only prompt
    # (read as written, as the second try is)
    "span": Variant(
        "span",
        0,
        0,
        None,
        convert_script=True,
        retry_template="",
        retry_prompt_only=True,
        read_simplified=False,
    ),
    "mark": Variant("mark", 0, 0, None, convert_script=True, retry_template="", focus="mark"),
    "focus": Variant("focus", 0, 0, None, convert_script=True, retry_template="", focus="focus"),
    "read-simplified": Variant(
        "read-simplified", 0, 0, None, convert_script=True, read_simplified=True
    ),
    "read-written": Variant("read-written", 0, 0, None, convert_script=True, read_simplified=False),
    # decoding: greedy (the most likely token every time) and no repetition penalty (which
    # discourages copying what the prompt's last tokens hold)
    "greedy": Variant(
        "greedy", 0, 0, None, convert_script=True, generation=(("temperature", 0.0),)
    ),
    "no-penalty": Variant(
        "no-penalty", 0, 0, None, convert_script=True, generation=(("repetition_penalty", 1.0),)
    ),
    "greedy-no-penalty": Variant(
        "greedy-no-penalty",
        0,
        0,
        None,
        convert_script=True,
        generation=(("temperature", 0.0), ("repetition_penalty", 1.0)),
    ),
    # the default before 2026-12-05: a repetition penalty of 1.05, no second try on echoes
    "penalty-no-echo-retry": Variant(
        "penalty-no-echo-retry",
        0,
        0,
        None,
        convert_script=True,
        retry_on_echo=False,
        generation=(("repetition_penalty", 1.05),),
    ),
    "current": Variant("current", 5, 2000),
    "top3": Variant("top3", 3, 2000),
    "top3-1000": Variant("top3-1000", 3, 1000),
    "v2": Variant("v2", 5, 2000, PROMPT_V2),
    "v2-top3": Variant("v2-top3", 3, 2000, PROMPT_V2),
    "v3-top3": Variant("v3-top3", 3, 2000, PROMPT_V3, convert_script=True),
    "v2-top3-s2t": Variant("v2-top3-s2t", 3, 2000, PROMPT_V2, convert_script=True),
    "current-s2t": Variant("current-s2t", 5, 2000, None, convert_script=True),
}


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


def configured(variant: Variant, settings: Settings) -> Variant:
    """`variant` with what it leaves to the configuration (top k 0, budgets 0, retry None)
    replaced by the configured values."""
    template = variant.template
    if variant.retry_prompt_only:
        if not settings.retry_prompt_template:
            raise SystemExit(f"variant {variant.name!r} needs RETRY_PROMPT_TEMPLATE to be set")
        template = settings.retry_prompt_template
    return replace(
        variant,
        template=template,
        top_k=variant.top_k or settings.answer_top_k,
        budget=variant.budget or context_budget(settings),
        token_budget=variant.token_budget or (settings.llm.context_token_budget or -1),
        retry_refusal=(
            variant.retry_refusal if variant.retry_refusal is not None else settings.retry_min_score
        ),
        retry_on_echo=(
            variant.retry_on_echo
            if variant.retry_on_echo is not None
            else settings.retry_on_repeated_question
        ),
        read_simplified=(
            variant.read_simplified
            if variant.read_simplified is not None
            else settings.llm.read_chinese_as == "simplified"
        ),
        retry_template=(
            variant.retry_template
            if variant.retry_template is not None
            else (settings.retry_prompt_template or "")
        ),
    )


SENTENCE_END = re.compile(r"(?<=[。！？；!?])|(?<=[.](?=\s))")
FOCUS_TOKENIZER = Tokenizer("bigram", QUESTION_STOPWORDS)


def focused(text: str, question: str, how: str) -> str:
    """`text` with the sentence sharing most tokens with `question` marked or kept alone."""
    sentences = [s for s in SENTENCE_END.split(text) if s.strip()]
    if not how or len(sentences) < 2:
        return text
    asked = set(FOCUS_TOKENIZER(question))
    best = max(range(len(sentences)), key=lambda i: len(asked & set(FOCUS_TOKENIZER(sentences[i]))))
    if how == "mark":
        sentences[best] = re.sub(r"^(\s*)(.*?)(\s*)$", r"\1**\2**\3", sentences[best], flags=re.S)
        return "".join(sentences)
    return "".join(sentences[max(0, best - 1) : best + 2]).strip()


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
    if any(marker in answer for marker in NOT_FOUND_MARKERS):
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


def timed_answer(
    llm: object,
    prompt: str,
    convert: Callable[[str], str],
    warm_prompt: str,
    generation: tuple[tuple[str, float], ...] = (),
) -> tuple[str, float, float]:
    """The answer, first-token and total seconds. As in the app, only the prompt's fixed
    beginning is in llama.cpp's cache: the cache is reset, then a 1-token answer to the
    template with an empty context and question puts that beginning there (untimed)."""
    llama = getattr(llm, "_llama", None)
    if llama is not None:
        llama.reset()
        llm.invoke(warm_prompt, max_new_tokens=1)  # type: ignore[attr-defined]
    started = time.perf_counter()
    first = None
    parts = []
    for piece in llm.stream(prompt, **dict(generation)):  # type: ignore[attr-defined]
        if first is None:
            first = time.perf_counter() - started
        parts.append(piece)
    total = time.perf_counter() - started
    return convert("".join(parts)), first or total, total


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
    variants = [configured(VARIANTS[name], settings) for name in args.variants.split(",")]
    services = build_services(settings, kb_root=args.kb_root)
    llm = services.llm
    llama = getattr(llm, "_llama", None)
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
    retriever.top_k = max(v.top_k for v in variants)
    with recording:
        answer_all(questions, variants, tallies, retriever, llm, llama, settings, logprobs)
    print_report(variants, tallies, args.out, bool(args.logprobs))
    return 0


def answer_all(
    questions: list[EvalQuestion],
    variants: list[Variant],
    tallies: dict[str, Tally],
    retriever: BaseRetriever,
    llm: Any,
    llama: Any,
    settings: Settings,
    logprobs: list[TokenLogprobs],
) -> None:
    converter = ScriptConverter()
    fold = refusal_fold(converter)
    refusal_prefixes = tuple(fold(prefix) for prefix in settings.not_found_prefixes)
    for number, q in enumerate(questions, 1):
        documents = retriever.invoke(q.question)
        traditional = converter.script_of(q.question) == "traditional"
        for variant in variants:
            sources = build_context(
                documents[: variant.top_k],
                variant.budget,
                variant.token_budget if variant.token_budget > 0 else None,
                llm.get_num_tokens,
            )
            template = PromptTemplate.from_template(variant.template or settings.prompt_template)
            listed = sources[::-1] if variant.best_last else sources
            if variant.focus:
                listed = [
                    replace(x, text=focused(x.text, q.question, variant.focus)) for x in listed
                ]
            context = format_context(sources)
            script = answer_script(converter, q.question, context)
            reading = Reading(format_context(listed), q.question)
            if variant.read_simplified:
                reading = simplified_reading(
                    converter, reading.context, reading.question, script == "traditional"
                )
            prompt = template.format(context=reading.context, question=reading.question)
            keep = kept_characters(converter, script, context)

            def convert(
                text: str,
                v: Variant = variant,
                to: Script = script,
                kept: frozenset = keep,
                read: Reading = reading,
            ) -> str:
                if not v.convert_script:
                    return text
                return "".join(converter.stream_to(to, read.restored([text]), kept))

            llm.system_prompt = variant.system_prompt or settings.system_prompt  # type: ignore[attr-defined]
            answer, first, total = timed_answer(
                llm, prompt, convert, template.format(context="", question=""), variant.generation
            )
            retried = False
            no_answer = fold(answer.lstrip()).startswith(refusal_prefixes) or (
                variant.retry_on_echo and repeats_question(answer, q.question, fold)
            )
            if (
                variant.retry_template
                and no_answer
                and sources[0].score >= (variant.retry_refusal or 0.0)
            ):
                retry_prompt = PromptTemplate.from_template(variant.retry_template).format(
                    context=context, question=q.question
                )  # as in the app, the second try reads the sources as written
                answer, _first, more = timed_answer(
                    llm,
                    retry_prompt,
                    partial(convert, read=Reading(context, q.question)),
                    template.format(context="", question=""),
                    variant.generation,
                )
                total += more
                retried = True
            _em, f1, contains = answer_scores(answer, q.answers)
            tally = tallies[variant.name]
            # the answer's last call is the answer (the warm-up call comes before it)
            confidence = statistics.mean(logprobs[-1].values or [0.0]) if logprobs else 0.0
            tally.mean_logprob.append(confidence)
            tally.contains.append(contains)
            tally.f1.append(f1)
            tally.not_found += any(m in answer for m in NOT_FOUND_MARKERS)
            tally.simplified += traditional and converter.has_simplified_only(answer)
            if llama is not None:
                tally.prompt_tokens.append(len(llama.tokenize(prompt.encode())))
            tally.first_token_s.append(first)
            tally.total_s.append(total)
            tally.rows.append(
                {
                    "question": q.question,
                    "answer": answer,
                    "gold": q.answers,
                    "c": contains,
                    "top_score": round(sources[0].score, 3),
                    "retried": retried,
                    "mean_logprob": round(confidence, 4) if logprobs else None,
                }
            )
            print(
                f"  {variant.name}: {contains:.0f} {first:.1f}s {answer[:80]!r} gold={q.answers}",
                file=sys.stderr,
                flush=True,
            )
        line = " ".join(f"{name}={statistics.mean(t.contains):.2f}" for name, t in tallies.items())
        print(f"[{number}/{len(questions)}] {line}", file=sys.stderr, flush=True)


def print_report(
    variants: list[Variant], tallies: dict[str, Tally], out: Path, logprobs: bool
) -> None:
    print(
        "| variant | top k | budget | contains | F1 | not found | simplified | "
        "prompt tokens p50 | first token p50 s | answer p50 s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    report = {}
    for variant in variants:
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
            f"| {variant.name} | {variant.top_k} | {variant.budget} | {row['contains']} | "
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
