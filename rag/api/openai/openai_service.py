"""The OpenAI-compatible API's work: which model a name is, the question and history in a
list of messages, the answer whole or as chunks, and embeddings.

Answers go through `Services.chat`, the REST API's path: the same queue, limits and chain.

Streaming and the chain's "replace" event: the chain withdraws an answer it has shown when
a retry policy finds, once the answer or its first sentence ended, that it only repeated the
question (`echo_retry`: it then asks once more) or names what no source holds
(`unsupported_answer`: the "not found" reply instead; rag/chains/retry.py). An OpenAI stream
cannot take back text, so while the chain may still withdraw the answer (`QAChain.
may_withdraw`: about the question's length for the first, the first sentence for the
second) the stream holds the answer back, and sends it once it can no longer be withdrawn or
has ended: a withdrawn answer is never sent, and only the first sentence of an answer waits.
A "replace" after text was sent (which the chain does not do) would be sent as a new
paragraph after it, and logged.

Usage: prompt tokens are the question, the history turns the model reads (LLM_HISTORY_LEN)
and the retrieved sources' text; completion tokens are the answer. Both are counted with
the LLM's own tokenizer when it has one at hand (the chain's token counter), otherwise
estimated (`rag.tokens.estimate_tokens`), and the prompt template's own words and the
rewriting of a follow-up question are not counted: a measure of size, not a bill.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
import time
import uuid
from collections.abc import Callable, Iterator, Sequence

from rag.api.chat.chat_models import ChatSource
from rag.api.openai.openai_models import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    Embedding,
    EmbeddingList,
    EmbeddingRequest,
    EmbeddingUsage,
    Message,
    ModelCard,
    ModelList,
    Usage,
)
from rag.asgi import error_body
from rag.chains import ChatEvent, Source, collect_answer
from rag.errors import BadRequestError, ModelNotFoundError, ZhikuError
from rag.services import Services
from rag.tokens import estimate_tokens

logger = logging.getLogger(__name__)

KB_PREFIX = "kb:"
DEFAULT_EMBEDDING = "default"
MAX_EMBEDDING_INPUTS = 2048
_STARTED = int(time.time())


def list_models(services: Services) -> ModelList:
    """The LLM by its configured name, then each knowledge base as `kb:<name>`."""
    names = [services.settings.models.llm_model]
    names += [KB_PREFIX + summary.name for summary in services.kb.list_kbs()]
    return ModelList(data=[ModelCard(id=name, created=_STARTED) for name in names])


def knowledge_base_of(services: Services, model: str) -> str | None:
    """The knowledge base `model` names (None: the LLM alone); ModelNotFoundError else. The
    message names no knowledge base (as the REST API's 404s do): /v1/models lists them."""
    if model == services.settings.models.llm_model:
        return None
    if model.startswith(KB_PREFIX):
        kb = model.removeprefix(KB_PREFIX)
        if kb and services.kb.exists(kb):
            return kb
        raise ModelNotFoundError(
            f"no knowledge base {kb!r}; GET /v1/models lists the models (kb:<name> for each "
            "knowledge base)"
        )
    llm = services.settings.models.llm_model
    raise ModelNotFoundError(
        f"no model {model!r}; the models are {llm!r} (the LLM alone) and kb:<name> for each "
        "knowledge base, as GET /v1/models lists them"
    )


def text_of(message: Message) -> str:
    """A message's text: its content, or its text parts joined; BadRequestError for others."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    kinds = {part.type for part in message.content} - {"text"}
    if kinds:
        raise BadRequestError(f"only text content is read, not {', '.join(sorted(kinds))}")
    return "".join(part.text or "" for part in message.content)


def conversation(messages: Sequence[Message]) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last message, a user's) and the earlier (user, assistant) turns.
    System and developer messages are ignored: the answer follows zhiku's own prompt.
    Consecutive user messages are one question; an assistant message without one before
    it answers an empty question."""
    turns: list[tuple[str, str]] = []
    question: str | None = None
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        if message.role == "user":
            text = text_of(message)
            question = text if question is None else f"{question}\n{text}"
        elif message.role == "assistant":
            turns.append((question or "", text_of(message)))
            question = None
        else:
            raise BadRequestError(
                f"messages of role {message.role!r} are not read: send system, user and "
                "assistant messages"
            )
    if question is None or not question.strip():
        raise BadRequestError("the last message must be the user's question")
    return question, turns


class AnswerText:
    """The answer's text for a stream that cannot take text back: what to send now for each
    chain event, holding the beginning back while the chain may still withdraw it (see the
    module doc). `may_withdraw(answer_start, question)`: None when the chain never withdraws
    this answer."""

    def __init__(self, question: str, may_withdraw: Callable[[str, str], bool] | None) -> None:
        self.question = question
        """What an answer that repeats the question would repeat (the standalone one)."""
        self.holding = may_withdraw is not None
        self.may_withdraw = may_withdraw
        self.held = ""
        self.sent = ""
        self.sources: list[Source] = []

    def feed(self, event: ChatEvent) -> str:
        if event.kind == "rewritten":
            self.question = event.text
        elif event.kind == "sources":
            self.sources = list(event.sources)
        elif event.kind == "replace":
            return self._replaced(event.text)
        elif self.holding and self.may_withdraw is not None:
            self.held += event.text
            if not self.may_withdraw(self.held, self.question):
                return self.finish()
        else:
            return self._send(event.text)
        return ""

    def finish(self) -> str:
        """What is held, to send now (the answer ended or can no longer be withdrawn)."""
        self.holding = False
        text, self.held = self.held, ""
        return self._send(text)

    def _replaced(self, text: str) -> str:
        # the chain asks again at most once: the second try is never withdrawn
        self.holding = False
        self.held = ""
        if self.sent:
            logger.warning("an answer already streamed was replaced; sent after it")
            return self._send("\n\n" + text)
        return self._send(text)

    def _send(self, text: str) -> str:
        self.sent += text
        return text


class ChatCall:
    """One chat completion request: the question, history and knowledge base it asks."""

    def __init__(self, services: Services, request: ChatCompletionRequest) -> None:
        self.services = services
        self.request = request
        self.kb = knowledge_base_of(services, request.model)
        self.question, self.history = conversation(request.messages)
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def events(self) -> Iterator[ChatEvent]:
        """The chain's events; the first is taken by the caller before answering, so that a
        full queue or an over-long question is an HTTP error, not one inside a stream."""
        return self.services.chat(self.question, self.kb, self.history)

    def completion(self) -> ChatCompletion:
        answer = collect_answer(self.events())
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.request.model,
            choices=[Choice(message=AssistantMessage(content=answer.text))],
            usage=self.usage(answer.sources, answer.text),
            sources=_sources(answer.sources),
        )

    def chunks(self, events: Iterator[ChatEvent]) -> Iterator[str]:
        """`data: <chat.completion.chunk>` lines: the role, the answer's pieces, a last chunk
        with finish_reason "stop" and the sources (and a usage chunk when asked for), then
        `data: [DONE]`. An error after the stream began is a `data: {"error": ...}` line."""
        text = AnswerText(self.question, self._may_withdraw())
        yield self._chunk(Delta(role="assistant", content=""))
        try:
            for event in events:
                if piece := text.feed(event):
                    yield self._chunk(Delta(content=piece))
            if piece := text.finish():
                yield self._chunk(Delta(content=piece))
            yield self._chunk(Delta(), finish="stop", sources=_sources(text.sources))
            options = self.request.stream_options
            if options is not None and options.include_usage:
                usage = self.usage(text.sources, text.sent)
                yield _data(self._completion_chunk([], usage=usage))
        except ZhikuError as exc:
            yield _data_json(error_body("/v1", 500, str(exc), "stream_failed"))
        except Exception:
            logger.exception("chat completion stream failed")
            message = "internal error; see the server log"
            yield _data_json(error_body("/v1", 500, message, "internal_error"))
        yield "data: [DONE]\n\n"

    def usage(self, sources: Sequence[Source], answer: str) -> Usage:
        count = self.services.qa.count_tokens
        turns = self.services.settings.answer.history_len
        read = self.history[-turns:] if turns > 0 else []
        prompt = count(self.question) + sum(count(q) + count(a) for q, a in read)
        prompt += sum(count(source.text) for source in sources)
        completion = count(answer) if answer else 0
        return Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )

    def _may_withdraw(self) -> Callable[[str, str], bool] | None:
        """The chain's `may_withdraw` for an answer from a knowledge base (None otherwise:
        the chain withdraws only those)."""
        qa = self.services.qa
        return qa.may_withdraw if self.kb is not None and qa.retry_policies else None

    def _completion_chunk(
        self,
        choices: list[ChunkChoice],
        usage: Usage | None = None,
        sources: list[ChatSource] | None = None,
    ) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.request.model,
            choices=choices,
            usage=usage,
            sources=sources,
        )

    def _chunk(
        self, delta: Delta, finish: str | None = None, sources: list[ChatSource] | None = None
    ) -> str:
        choice = ChunkChoice(delta=delta, finish_reason="stop" if finish else None)
        return _data(self._completion_chunk([choice], sources=sources))


def _sources(sources: Sequence[Source]) -> list[ChatSource]:
    return [ChatSource.model_validate(source.as_dict()) for source in sources]


def _data(chunk: ChatCompletionChunk) -> str:
    """The chunk without the fields it does not have (a delta without role...), but with
    finish_reason on every choice (null until the last) and the sources as /api/chat has
    them (`page` null included)."""
    payload = chunk.model_dump(exclude_none=True)
    for choice, dumped in zip(chunk.choices, payload["choices"], strict=True):
        dumped["finish_reason"] = choice.finish_reason
    if chunk.sources is not None:
        payload["sources"] = [source.model_dump() for source in chunk.sources]
    return _data_json(payload)


def _data_json(payload: dict[str, object]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def embed(services: Services, request: EmbeddingRequest) -> EmbeddingList:
    """The embedding model's vectors of `request.input`, in OpenAI's list (floats, or base64
    of little-endian float32 as the `openai` client asks by default). Usage is estimated."""
    name = services.settings.models.embedding_model
    if request.model not in (DEFAULT_EMBEDDING, name):
        raise ModelNotFoundError(
            f"no embedding model {request.model!r}; use {DEFAULT_EMBEDDING!r} or {name!r}"
        )
    texts = _embedding_texts(request.input)
    vectors = services.kb.embeddings.embed_documents(texts)
    data = [
        Embedding(index=i, embedding=_encoded(vector, request.encoding_format))
        for i, vector in enumerate(vectors)
    ]
    tokens = sum(estimate_tokens(text) for text in texts)
    usage = EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens)
    return EmbeddingList(data=data, model=name, usage=usage)


def _embedding_texts(value: object) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise BadRequestError(
            "input must be a string or a list of strings; token ids are not read (LangChain's "
            "OpenAIEmbeddings: pass check_embedding_ctx_length=False)"
        )
    if not texts or len(texts) > MAX_EMBEDDING_INPUTS:
        raise BadRequestError(f"input must hold 1 to {MAX_EMBEDDING_INPUTS} strings")
    if not all(text.strip() for text in texts):
        raise BadRequestError("input must not hold an empty string")
    return texts


def _encoded(vector: Sequence[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return [float(value) for value in vector]
