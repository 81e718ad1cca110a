"""The labels the source viewer and the chat's actions show, in Chinese and English, in one
place (to be folded into the UI's message table). Until the UI picks one language, `label`
shows both, as the rest of the UI does ("对话 Chat")."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "plain_chat": {"zh": "不用知识库（模型直接回答）", "en": "No knowledge base (model only)"},
    "plain_chat_notice": {
        "zh": "⚠️ 未选择知识库：回答只来自模型自己的记忆，没有出处，可能不准确。",
        "en": "No knowledge base chosen: the answer comes from the model's memory alone, "
        "without sources, and may be wrong.",
    },
    "plain_chat_answer": {"zh": "未使用知识库", "en": "no knowledge base used"},
    "stop": {"zh": "停止", "en": "Stop"},
    "stopped": {"zh": "■ 已停止", "en": "stopped"},
    "copy": {"zh": "复制", "en": "Copy"},
    "copied": {"zh": "已复制", "en": "Copied"},
    "searched_as": {"zh": "检索问题", "en": "searched as"},
    "sources": {"zh": "来源", "en": "Sources"},
    "relevance": {"zh": "相关度", "en": "relevance"},
    "relevance_note": {
        "zh": "相关度 0–1，越高越相关；点击来源查看原文",
        "en": "relevance 0–1, higher = more relevant; click a source to open it",
    },
    "page": {"zh": "第 {n} 页", "en": "page {n}"},
    "page_of": {"zh": "第 {n} / {total} 页", "en": "page {n} of {total}"},
    "viewer": {"zh": "原文", "en": "Source"},
    "viewer_empty": {
        "zh": "点击回答中的引用 [1] 或下方的来源卡片，在这里查看原文并标出引用的段落。",
        "en": "Click a citation [1] in an answer, or a source card below it, to see the "
        "document here with the cited passage marked.",
    },
    "download": {"zh": "下载原文", "en": "Download original"},
    "passage": {"zh": "引用段落", "en": "Cited passage"},
    "passage_not_on_page": {
        "zh": "在这一页上没有找到这段文字的位置，下面是引用的原文。",
        "en": "The passage could not be placed on this page; its text is below.",
    },
    "passage_not_found": {
        "zh": "在文档中没有找到这段文字（文档可能已更新），下面是引用的原文。",
        "en": "The passage was not found in the document (it may have been updated); its "
        "text is below.",
    },
    "document_gone": {
        "zh": "无法打开这个来源",
        "en": "This source cannot be opened",
    },
    "model_line": {"zh": "模型", "en": "Models"},
    "llm": {"zh": "大模型", "en": "LLM"},
    "embedding": {"zh": "向量模型", "en": "embedding"},
    "last_answer": {"zh": "上次回答", "en": "last answer"},
    "first_token": {"zh": "首字", "en": "first token"},
    "tokens_per_s": {"zh": "生成速度", "en": "speed"},
}


def label(key: str, **values: object) -> str:
    """Label `key` in both languages, `{name}` fields filled from `values`."""
    entry = LABELS[key]
    zh, en = entry["zh"].format(**values), entry["en"].format(**values)
    return f"{zh} {en}"


def label_zh_en(key: str, **values: object) -> tuple[str, str]:
    """Label `key` in each language (for text that shows them apart)."""
    entry = LABELS[key]
    return entry["zh"].format(**values), entry["en"].format(**values)
