"""The dev gate (issue 18): the three dev languages through the REST API of a fresh app.

    python scripts/devgate.py [--langs en zh zh_tw] [--answers 100] [--offtopic 50] [--skip 0]
        [--env ZHIKU_KEY=VALUE ...] [--variant FILE.json] [--name LABEL]
        [--out DIR] [--save FILE.json] [--compare FILE.json] [--kb-root DIR]

Starts `python app.py --port <free> --kb-root <dir>` with the defaults (plus the --env
overrides), then per language: uploads the corpus and measures retrieval with the dev set's
own harness (`run_eval.run_lang`, its metrics), answers the first N questions through
`POST /api/chat` with `"stream": true` (first-token time, final answer after any `replace`,
scored with the harness's `answer_scores`), asks M off-topic questions and counts the
"not found" replies (as `rag.chains.not_found` decides), and counts invalid citations ([n]
naming no source returned with the answer). Prints one table per language; with --compare,
the deltas against a stored run (--save) and the verdict of the developers' rule: a default
changes only when the three languages improve together and none regresses beyond noise
(more than 1 point for hit@k, 2 points for contains).

--kb-root DIR keeps the knowledge bases in DIR and skips the upload when DIR already holds
the corpus (about 3 minutes per run saved): right for variants that change only the prompt
or the answer step. The knowledge base's name carries a hash of the chunking and embedding
settings, so such a variant gets its own; a change to the loaders' or splitters' *code* is
not seen: use a fresh root then.

Store a run with --save and compare a later one with --compare (the README's dev-gate
tables say which runs they come from); scripts/devgate/chatchat.json is the issue's baseline row,
the plain Chatchat-style prompt, as a variant (`--variant`; what the settings cannot express
is listed in it). Exit status 1 when --compare's verdict is not a pass.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.chains.citations import CITATION, cited  # noqa: E402
from rag.chains.not_found import is_not_found, mentions_not_found  # noqa: E402
from rag.chains.quoting import without_quote  # noqa: E402
from rag.settings import ENV_PREFIX, FLAT_KEYS, Settings, load_settings  # noqa: E402

DEFAULT_DEVSET = ROOT.parent / "shared" / "devset"
EN_OFFTOPIC = ROOT / "tests" / "data" / "devgate" / "en.offtopic.jsonl"
LANGS = ("zh_tw", "zh", "en")
# The developers' rule: a fall of more than this many points is a regression, not noise.
NOISE_POINTS = {"hit@1": 1.0, "hit@5": 1.0, "hit@10": 1.0, "contains": 2.0}
# Chunks a knowledge base is built with: a variant changing one of these gets its own KB
# (config names, see FLAT_KEYS: the KB suffix hashes them, so they stay flat).
INGEST_SETTINGS = (
    "embedding_model",
    "text_splitter",
    "chunk_size",
    "overlap_size",
    "chunk_title_prefix",
)
CHAT_TIMEOUT_S = 180.0


# --------------------------------------------------------------------------- streaming


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) for each server-sent event in `lines` (without line ends)."""
    name, data = "message", list[str]()
    for line in lines:
        if not line:  # a blank line ends an event
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", list[str]()
        elif line.startswith(":"):
            continue  # a comment (keep-alive)
        else:
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
    if data:
        yield name, json.loads("\n".join(data))


@dataclass
class StreamedReply:
    """A chat answer put together from its events as they arrive."""

    started: float
    parts: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    first_token_at: float | None = None
    restarts: int = 0
    error: str | None = None
    done: bool = False
    total_s: float | None = None

    def feed(self, event: str, data: Mapping[str, Any], now: float) -> None:
        if event == "token":
            if self.first_token_at is None:  # what the user sees first, even if withdrawn
                self.first_token_at = now
            self.parts.append(str(data.get("text", "")))
        elif event == "replace":  # the answer so far is withdrawn, `text` shown instead
            self.parts[:] = [str(data.get("text") or "")]
            self.restarts += 1
        elif event == "sources":
            self.sources = list(data.get("sources") or [])
        elif event == "error":
            self.error = str(data.get("error"))
        elif event == "done":
            self.done = True

    @property
    def answer(self) -> str:
        return "".join(self.parts)

    @property
    def first_token_s(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started


# --------------------------------------------------------------------------- citations


def cited_numbers(answer: str) -> list[int]:
    """Every source number the answer cites ([1], [1, 2], 【1】 as the app reads them), in
    order, repeats kept."""
    return [number for match in CITATION.finditer(answer) for number in cited(match.group())]


def invalid_citations(answer: str, sources: Sequence[Mapping[str, Any]]) -> list[int]:
    """The cited numbers that are not the index of a source returned with the answer."""
    shown = {source.get("index") for source in sources}
    return [number for number in cited_numbers(answer) if number not in shown]


# --------------------------------------------------------------------------- summary


def _pct(values: Sequence[float]) -> float | None:
    return round(100 * statistics.mean(values), 1) if values else None


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def summarize(retrieval: Mapping[str, Any], answered: Sequence[dict], offtopic: Sequence[dict]):
    """The figures of one language: retrieval from the harness's result, the rest from the
    per-question rows of `answer_row`."""

    def points(key: str) -> float | None:
        value = retrieval.get(key)
        return None if value is None else round(100 * value, 1)

    replies = [*answered, *offtopic]
    loads = [r["load_1m"] for r in replies if r.get("load_1m") is not None]
    first_tokens = [r["first_token_s"] for r in answered if r["first_token_s"] is not None]
    return {
        "hit@1": points("hit@1"),
        "hit@5": points("hit@5"),
        "hit@10": points("hit@10"),
        "mrr@10": retrieval.get("mrr@10"),
        "chars_top5": retrieval.get("chars_top5_mean"),
        "searched": retrieval.get("n_searched"),
        "answered": len(answered),
        "contains": _pct([r["contains"] for r in answered]),
        "f1": _pct([r["f1"] for r in answered]),
        "em": _pct([r["em"] for r in answered]),
        "contains_alone": _pct([r["contains_alone"] for r in answered if "contains_alone" in r]),
        "f1_alone": _pct([r["f1_alone"] for r in answered if "f1_alone" in r]),
        "not_found_answerable": sum(r["not_found"] for r in answered),
        "offtopic_asked": len(offtopic),
        "offtopic_not_found": _pct([float(r["not_found"]) for r in offtopic]),
        "answer_and_refusal": sum(r["mentions_not_found"] and not r["not_found"] for r in replies),
        "invalid_citations": sum(len(r["invalid_citations"]) for r in replies),
        "replies_with_invalid_citations": sum(bool(r["invalid_citations"]) for r in replies),
        "uncited_answers": sum(
            not r["not_found"] and not cited_numbers(r["answer"] or "") for r in answered
        ),
        "first_token_p50_s": _median(first_tokens),
        "answer_p50_s": _median([r["total_s"] for r in answered if r["total_s"] is not None]),
        "restarts": sum(r["restarts"] for r in replies),
        "errors": sum(bool(r["error"]) for r in replies),
        "ingest_skipped": bool(retrieval.get("ingest_skipped")),
        # the machine is shared: the 1-minute load while the answers were asked, per reply
        "load_1m_mean": round(statistics.mean(loads), 2) if loads else None,
        "load_1m_max": max(loads) if loads else None,
    }


# --------------------------------------------------------------------------- tables

# (label, summary key, how to show it); "pts" values are percentages
ROWS: tuple[tuple[str, str, str], ...] = (
    ("hit@1", "hit@1", "pts"),
    ("hit@5", "hit@5", "pts"),
    ("hit@10", "hit@10", "pts"),
    ("MRR@10", "mrr@10", "mrr"),
    ("chars in top 5", "chars_top5", "num"),
    ("answer contains", "contains", "pts"),
    ("answer F1", "f1", "pts"),
    ("answer EM", "em", "pts"),
    ("contains, the answer above its quote", "contains_alone", "pts"),
    ("F1, the answer above its quote", "f1_alone", "pts"),
    ('"not found" on answerable', "not_found_answerable", "num"),
    ('off-topic -> "not found"', "offtopic_not_found", "pts"),
    ("answer and refusal in one reply", "answer_and_refusal", "num"),
    ("invalid citations", "invalid_citations", "num"),
    ("answers citing no source", "uncited_answers", "num"),
    ("first token p50", "first_token_p50_s", "sec"),
    ("answer time p50", "answer_p50_s", "sec"),
)


def _show(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pts":
        return f"{value:.1f}"
    if kind == "mrr":
        return f"{value:.3f}"
    if kind == "sec":
        return f"{value:.2f} s"
    return f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"


def _delta(now: Any, before: Any, kind: str) -> str:
    if now is None or before is None:
        return "–"
    if kind == "sec":  # speed: a ratio (the stored run may come from another machine state)
        return f"{now / before:.2f}x" if before else "–"
    if kind == "mrr":
        return f"{now - before:+.3f}"
    return f"{now - before:+.1f}" if kind == "pts" else f"{now - before:+,.0f}"


def lang_table(lang: str, now: Mapping[str, Any], variant: str, before: Mapping | None) -> str:
    """One language's table in Markdown, with the stored run's figures when given."""
    head = (
        f"### {lang} — {variant}\n\n"
        f"{now['searched']} questions searched, {now['answered']} answered, "
        f"{now['offtopic_asked']} off-topic; 1-min load while answering: mean "
        f"{now.get('load_1m_mean')}, max {now.get('load_1m_max')}"
        + (" (ingest skipped: KB reused)" if now.get("ingest_skipped") else "")
        + "\n\n"
    )
    if before is None:
        lines = ["| metric | value |", "|---|---:|"]
        lines += [f"| {label} | {_show(now.get(key), kind)} |" for label, key, kind in ROWS]
        return head + "\n".join(lines) + "\n"
    lines = ["| metric | value | stored | change | |", "|---|---:|---:|---:|---|"]
    for label, key, kind in ROWS:
        flag = _flag(key, now.get(key), before.get(key))
        lines.append(
            f"| {label} | {_show(now.get(key), kind)} | {_show(before.get(key), kind)} | "
            f"{_delta(now.get(key), before.get(key), kind)} | {flag} |"
        )
    return head + "\n".join(lines) + "\n"


def _flag(key: str, now: Any, before: Any) -> str:
    if key not in NOISE_POINTS or now is None or before is None:
        return ""
    change = now - before
    if change < -NOISE_POINTS[key]:
        return f"**regressed** (> {NOISE_POINTS[key]:g})"
    return "better" if change > NOISE_POINTS[key] else "within noise"


# --------------------------------------------------------------------------- the gate


@dataclass
class Verdict:
    passed: bool
    status: str
    per_lang: dict[str, str]
    violations: list[str]
    notes: list[str]


def lang_change(now: Mapping[str, Any], before: Mapping[str, Any]) -> tuple[str, list[str]]:
    """ "better" (a gated figure up beyond noise, none down beyond it), "worse" (one down
    beyond noise, listed) or "same"."""
    regressions, gains = [], []
    for key, noise in NOISE_POINTS.items():
        if now.get(key) is None or before.get(key) is None:
            regressions.append(f"{key} missing")
            continue
        change = now[key] - before[key]
        if change < -noise:
            regressions.append(f"{key} {before[key]:.1f} -> {now[key]:.1f} ({change:+.1f})")
        elif change > noise:
            gains.append(key)
    if regressions:
        return "worse", regressions
    return ("better" if gains else "same"), []


def gate_verdict(now: Mapping[str, Mapping], before: Mapping[str, Mapping]) -> Verdict:
    """The developers' rule over all three languages: pass only when each improves (a
    gated figure up beyond noise) and none regresses beyond noise."""
    per_lang, violations, notes = {}, [], []
    for lang in LANGS:
        if lang not in now or lang not in before:
            violations.append(f"{lang}: not measured in both runs")
            continue
        violations += [f"{lang}: {m}" for m in _mismatches(now[lang], before[lang])]
        per_lang[lang], regressions = lang_change(now[lang], before[lang])
        violations += [f"{lang}: {r}" for r in regressions]
        notes += _notes(lang, now[lang], before[lang])
    worse = [lang for lang, change in per_lang.items() if change == "worse"]
    if worse:
        status = f"regression on {', '.join(worse)}: keep the stored default"
        return Verdict(False, status, per_lang, violations, notes)
    if violations:
        return Verdict(
            False, "not comparable: keep the stored default", per_lang, violations, notes
        )
    if all(per_lang.get(lang) == "better" for lang in LANGS):
        status = "all three languages improve: may become the default"
        return Verdict(True, status, per_lang, [], notes)
    same = ", ".join(lang for lang in LANGS if per_lang.get(lang) != "better")
    status = f"no gain beyond noise on {same}: keep the stored default"
    return Verdict(False, status, per_lang, [], notes)


def _mismatches(now: Mapping[str, Any], before: Mapping[str, Any]) -> list[str]:
    """Runs over different question counts do not compare."""
    return [
        f"{now.get(key)} {what} against {before.get(key)}: not comparable"
        for key, what in (
            ("searched", "searched"),
            ("answered", "answered"),
            ("offtopic_asked", "off-topic"),
        )
        if now.get(key) != before.get(key)
    ]


def _notes(lang: str, now: Mapping[str, Any], before: Mapping[str, Any]) -> list[str]:
    """Changes outside the rule worth a look: off-topic refusals, citations, speed."""
    notes = []
    off_now, off_before = now.get("offtopic_not_found"), before.get("offtopic_not_found")
    if off_now is not None and off_before is not None and off_now < off_before - 2:
        notes.append(f"{lang}: off-topic refusals {off_before:.1f} -> {off_now:.1f}")
    if (now.get("invalid_citations") or 0) > (before.get("invalid_citations") or 0):
        notes.append(
            f"{lang}: invalid citations {before.get('invalid_citations')} -> "
            f"{now.get('invalid_citations')}"
        )
    first_now, first_before = now.get("first_token_p50_s"), before.get("first_token_p50_s")
    if first_now and first_before and first_now > 1.1 * first_before:
        notes.append(
            f"{lang}: first token p50 {first_now / first_before:.2f}x the stored run's "
            "(compare speed only with a baseline run in the same session)"
        )
    return notes


def verdict_md(verdict: Verdict) -> str:
    lines = [f"**Verdict: {'PASS' if verdict.passed else 'NO'}** — {verdict.status}", ""]
    lines += [f"- {lang}: {change}" for lang, change in verdict.per_lang.items()]
    lines += [f"- violation: {v}" for v in verdict.violations]
    lines += [f"- note: {n}" for n in verdict.notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- variant


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """`KEY=VALUE` pairs as ZHIKU_* variables (the prefix is added when missing); a value
    `@path` is read from that file (prompts with line breaks)."""
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env {pair!r}: expected KEY=VALUE")
        text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        env[env_key(key)] = text
    return env


def env_key(key: str) -> str:
    return key if key.startswith(ENV_PREFIX) else ENV_PREFIX + key


def variant_label(name: str, env: Mapping[str, str], settings: Settings) -> str:
    """Which model and prompt ran, and the overrides (long values shortened)."""
    templates = json.dumps(settings.answer.prompt_templates, sort_keys=True, ensure_ascii=False)
    prompt = hashlib.sha1(templates.encode()).hexdigest()[:8]
    shown = [
        f"{key}={value if len(value) <= 40 else value[:37] + '...'}"
        for key, value in sorted(env.items())
    ]
    return f"**{name}**: LLM `{settings.models.llm_model}`, prompt sha1 `{prompt}`, env: " + (
        ", ".join(f"`{s}`" for s in shown) or "defaults"
    )


def flat_setting(settings: Settings, name: str) -> Any:
    """The setting a config name (`chunk_size`) names, read from its section (FLAT_KEYS)."""
    value: Any = settings
    for part in FLAT_KEYS[name]:
        value = getattr(value, part)
    return value


def kb_suffix(settings: Settings) -> str:
    """A short hash of the settings a knowledge base's chunks depend on."""
    key = json.dumps({name: str(flat_setting(settings, name)) for name in INGEST_SETTINGS})
    return hashlib.sha1(key.encode()).hexdigest()[:8]


# --------------------------------------------------------------------------- the harness


def load_harness(devset: Path) -> ModuleType:
    """The dev set's own run_eval.py: its metrics and its REST client, not copies."""
    path = devset / "run_eval.py"
    if not path.is_file():
        raise SystemExit(f"no harness at {path}: pass --devset")
    sys.path.insert(0, str(devset))
    spec = importlib.util.spec_from_file_location("run_eval", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_eval"] = module
    spec.loader.exec_module(module)
    return module


def harness_args(devset: Path, search_questions: int) -> SimpleNamespace:
    """What `run_eval.run_lang` reads from its command line: the harness's own defaults,
    retrieval only (answers are asked here, streamed)."""
    return SimpleNamespace(
        eval_dir=str(devset),
        max_questions=search_questions,
        answer_questions=0,
        ingest_timeout_s=1800.0,
        search_timeout_s=30.0,
        chat_timeout_s=CHAT_TIMEOUT_S,
        searchable_wait_s=300.0,
        lang_budget_s=3600.0,
    )


def gate_adapter(harness: ModuleType, base_url: str, suffix: str) -> Any:
    """The harness's HTTP adapter with fixed KB names, skipping the upload of a corpus the
    knowledge base already holds."""

    class GateAdapter(harness.HttpAdapter):  # type: ignore[name-defined,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.skipped: set[str] = set()

        def kb_name(self, lang: str) -> str:
            return f"devgate_{lang}_{suffix}"

        def ingest(self, kb_name: str, paths: list[str]) -> dict[str, Any]:
            held = self._held(kb_name)
            if held is not None and {os.path.basename(p) for p in paths} <= held[0]:
                self.skipped.add(kb_name)
                return {"chunks": held[1], "failed_files": 0}
            return dict(super().ingest(kb_name, paths))

        def _held(self, kb_name: str) -> tuple[set[str], int] | None:
            _, listing = self._call("GET", "/api/kbs")
            kbs = {kb["name"]: kb for kb in listing.get("kbs", [])}
            if kb_name not in kbs:
                return None
            _, docs = self._call("GET", f"/api/kbs/{kb_name}/docs")
            return {doc["name"] for doc in docs.get("docs", [])}, int(kbs[kb_name]["chunks"])

    return GateAdapter(base_url, chat_timeout=CHAT_TIMEOUT_S)


# --------------------------------------------------------------------------- asking


def ask(client: Any, kb: str, question: str) -> StreamedReply:
    """One question through `POST /api/chat` with `"stream": true`."""
    reply = StreamedReply(started=time.monotonic())
    payload = {"kb": kb, "query": question, "stream": True}
    try:
        with client.stream("POST", "/api/chat", json=payload) as response:
            if response.status_code != 200:
                reply.error = f"HTTP {response.status_code}: {response.read()[:300]!r}"
                return reply
            for event, data in parse_sse(response.iter_lines()):
                reply.feed(event, data, time.monotonic())
    except Exception as exc:  # a timeout or a dropped connection: record it, go on
        reply.error = f"{type(exc).__name__}: {exc}"
    reply.total_s = time.monotonic() - reply.started
    return reply


def answer_row(
    question: Mapping[str, Any], reply: StreamedReply, score, settings: Settings
) -> dict:
    """One question's line in the details file; `score(answer)` is the harness's (em, f1,
    contains), None for an off-topic question; also scored: the answer above its quote
    (QUOTE_SOURCE_SENTENCE)."""
    scores, alone = score(reply.answer), score(without_quote(reply.answer))
    em, f1, contains = scores if scores is not None else (None, None, None)
    return {
        "id": question["id"],
        "kind": "answer" if scores is not None else "offtopic",
        "question": question["question"],
        "gold": question.get("answers", []),
        "answer": reply.answer,
        "em": em,
        "f1": None if f1 is None else round(f1, 3),
        "contains": contains,
        "contains_alone": None if alone is None else alone[2],
        "f1_alone": None if alone is None else round(alone[1], 3),
        "not_found": is_not_found(reply.answer, settings.answer),
        "mentions_not_found": mentions_not_found(reply.answer, settings.answer),
        "invalid_citations": invalid_citations(reply.answer, reply.sources),
        "sources": [s.get("source") for s in reply.sources],
        "first_token_s": None if reply.first_token_s is None else round(reply.first_token_s, 3),
        "total_s": None if reply.total_s is None else round(reply.total_s, 3),
        "restarts": reply.restarts,
        "load_1m": round(os.getloadavg()[0], 2),
        "error": reply.error or (None if reply.done else "stream ended without done"),
    }


def read_jsonl(path: Path, limit: int) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return rows[:limit]


def offtopic_file(devset: Path, lang: str) -> Path:
    """The dev set's off-topic questions; English ones are ours (the dev set has none)."""
    return EN_OFFTOPIC if lang == "en" else devset / "questions" / f"{lang}.offtopic.jsonl"


def ask_all(client, kb, questions, settings, score, details, label) -> list[dict[str, Any]]:
    """Ask each question, write its row to `details`; `score(question, answer)` is None for
    off-topic questions."""
    rows = []
    for number, question in enumerate(questions, 1):
        reply = ask(client, kb, question["question"])
        row = answer_row(question, reply, functools.partial(score, question), settings)
        details.write(json.dumps(row, ensure_ascii=False) + "\n")
        details.flush()
        rows.append(row)
        if number % 10 == 0 or number == len(questions):
            print(f"[{label}] {number}/{len(questions)}", flush=True)
    return rows


# --------------------------------------------------------------------------- one language


def run_language(lang: str, app_url: str, harness: ModuleType, args, settings) -> dict:
    """Retrieval (the harness), answers and off-topic replies of one language."""
    import httpx

    adapter = gate_adapter(harness, app_url, kb_suffix(settings))
    retrieval = harness.run_lang(
        adapter,
        harness_args(args.devset, args.search_questions),
        lang,
        str(args.out / f"details_{lang}.jsonl"),
    )
    kb = retrieval["kb_name"]
    retrieval["ingest_skipped"] = kb in adapter.skipped
    if retrieval.get("errors"):
        print(f"[{lang}] harness: {retrieval['errors'][:3]}", flush=True)
    questions = harness.load_questions(str(args.devset), lang)[args.skip : args.skip + args.answers]
    offtopic = read_jsonl(offtopic_file(args.devset, lang), args.offtopic)

    def score(question: Mapping[str, Any], answer: str) -> tuple | None:
        return harness.answer_scores(answer, question["answers"], lang)

    timeout = httpx.Timeout(CHAT_TIMEOUT_S, connect=10.0)
    with (
        httpx.Client(base_url=app_url, timeout=timeout, trust_env=False) as client,
        (args.out / f"answers_{lang}.jsonl").open("w", encoding="utf-8") as details,
    ):
        answered = ask_all(client, kb, questions, settings, score, details, f"{lang} answers")
        refused = ask_all(
            client, kb, offtopic, settings, lambda q, a: None, details, f"{lang} off-topic"
        )
    return {"summary": summarize(retrieval, answered, refused), "retrieval": retrieval}


# --------------------------------------------------------------------------- the run


def git_state() -> str:
    """The commit measured, and whether the work tree differed from it."""

    def git(*command: str) -> str:
        result = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (
        " (modified)" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--langs", nargs="+", choices=LANGS, default=list(LANGS))
    parser.add_argument("--answers", type=int, default=100, help="questions answered per language")
    parser.add_argument("--offtopic", type=int, default=50, help="off-topic questions per language")
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        help="answer from this question on (extends an earlier run without repeating it)",
    )
    parser.add_argument(
        "--search-questions", type=int, default=0, help="questions searched (0 = all 500)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a ZHIKU_* setting for this variant (repeatable; VALUE @file reads a file)",
    )
    parser.add_argument(
        "--variant", type=Path, help='a JSON file {"name": ..., "env": {KEY: VALUE}}'
    )
    parser.add_argument(
        "--name", help="the variant's label (default: the --variant's, or 'defaults')"
    )
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument(
        "--out", type=Path, help="report.json, report.md, details (default: a temp dir)"
    )
    parser.add_argument(
        "--kb-root",
        type=Path,
        help="keep the KBs here and skip uploading a corpus the KB already holds (~3 min "
        "a language; for prompt/answer-only variants)",
    )
    parser.add_argument("--save", type=Path, help="store this run's tables (JSON) for --compare")
    parser.add_argument("--compare", type=Path, help="a JSON stored by --save: deltas and verdict")
    return parser.parse_args(argv)


def variant_env(args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    name, env = "defaults", {}
    if args.variant:
        spec = json.loads(args.variant.read_text(encoding="utf-8"))
        name = spec.get("name", args.variant.stem)
        for key, value in spec.get("env", {}).items():  # JSON values (a model entry) as JSON
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            env[env_key(key)] = text
    env.update(parse_env(args.env))
    return args.name or name, env


def run(
    args: argparse.Namespace, settings: Settings, env: dict[str, str], kb_root: Path, label: str
) -> dict:
    """Start the app, measure each language, stop the app; the report is rewritten after
    each language, so a long run that stops still leaves its finished languages."""
    from tests.e2e.conftest import start_app

    harness = load_harness(args.devset)
    started = time.monotonic()
    report: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "git": git_state(),
            "load_at_start": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
            "answers": args.answers,
            "skip": args.skip,
            "offtopic": args.offtopic,
        },
        "variant": {"name": label, "env": env, "llm_model": settings.models.llm_model},
        "langs": {},
        "retrieval": {},
    }
    app = start_app(kb_root, args.out / "app.log", settings.models.llm_model, env)
    try:
        report["meta"]["app_start_s"] = round(time.monotonic() - started, 1)
        for lang in args.langs:
            result = run_language(lang, app.base_url, harness, args, settings)
            report["langs"][lang] = result["summary"]
            report["retrieval"][lang] = result["retrieval"]
            report["meta"]["wall_s"] = round(time.monotonic() - started, 1)
            report["meta"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
            write_reports(args, report)
    finally:
        app.stop()
    return report


def report_md(report: Mapping[str, Any], before: Mapping[str, Any] | None) -> str:
    meta = report["meta"]
    parts = [
        f"# dev gate, {meta['started']}, commit {meta['git']}\n",
        f"wall {meta.get('wall_s')} s on {meta['cpus']} CPUs; load (1, 5, 15 min) at start "
        f"{meta['load_at_start']}, at end {meta.get('load_at_end')}\n",
    ]
    if before is not None:
        parts.append(
            f"compared with {before['variant']['name']} ({before['meta']['started']}, "
            f"commit {before['meta']['git']})\n"
        )
    for lang, summary in report["langs"].items():
        stored = before["langs"].get(lang) if before is not None else None
        parts.append(lang_table(lang, summary, report["variant"]["name"], stored))
    if before is not None:
        parts.append(verdict_md(gate_verdict(report["langs"], before["langs"])))
    return "\n".join(parts)


def write_reports(args: argparse.Namespace, report: Mapping[str, Any]) -> None:
    (args.out / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    (args.out / "report.md").write_text(report_md(report, args.before), encoding="utf-8")
    if args.save:
        stored = {key: report[key] for key in ("meta", "variant", "langs")}
        args.save.write_text(json.dumps(stored, ensure_ascii=False, indent=1) + "\n", "utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    name, env = variant_env(args)
    # the overrides are checked here, before anything starts (a wrong key stops at once)
    settings = load_settings(env={**os.environ, **env})
    args.before = json.loads(args.compare.read_text(encoding="utf-8")) if args.compare else None
    args.out = args.out or Path(tempfile.mkdtemp(prefix="devgate-"))
    args.out.mkdir(parents=True, exist_ok=True)
    label = variant_label(name, env, settings)
    if args.kb_root is not None:
        args.kb_root.mkdir(parents=True, exist_ok=True)
        report = run(args, settings, env, args.kb_root.resolve(), label)
    else:
        with tempfile.TemporaryDirectory(prefix="devgate-kb-") as kb_root:
            report = run(args, settings, env, Path(kb_root), label)
    print(report_md(report, args.before))
    print(f"reports in {args.out}")
    verdict_failed = (
        args.before is not None and not gate_verdict(report["langs"], args.before["langs"]).passed
    )
    return 1 if verdict_failed else 0


if __name__ == "__main__":
    sys.exit(main())
