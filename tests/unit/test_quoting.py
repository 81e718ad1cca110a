"""The source's sentence quoted under an answer (`rag.chains.quoting`), alone and in the
chain: after a second try, never under a refusal, off with QUOTE_SOURCE_SENTENCE = False."""

import pytest

from rag.chains import NOT_FOUND_REPLIES, collect_answer
from rag.chains.not_found import Refusals
from rag.chains.quoting import (
    MAX_QUOTE_CHARS,
    SentenceQuoter,
    holds_word_for_word,
    sentences,
    supporting_sentence,
)
from rag.chains.turn import Source
from rag.factory import build_qa_chain
from rag.settings import load_settings
from tests.unit.test_chain import REFUSAL, RETRIES, SHIPPED, ListRetriever, doc, make_chain
from tests.unit.test_llm_base import FakeLLM

MA_BIAO = "1975年起在南宁市工作。文化大革命期间，马飚中学毕业后，在广西柳州钢铁厂当工人。"


def source(index: int, text: str) -> Source:
    return Source(index=index, source=f"{index}.txt", page=None, text=text, score=0.8)


def test_sentences_end_at_chinese_and_english_stops_not_at_initials():
    assert sentences("甲是一。乙是二！丙呢？\n丁") == ["甲是一。", "乙是二！", "丙呢？", "丁"]
    text = "It was delayed by John F. Kennedy's death. Ten minutes (later) it ran. 2 ran too."
    assert sentences(text) == [
        "It was delayed by John F. Kennedy's death.",
        "Ten minutes (later) it ran.",
        "2 ran too.",
    ]


def test_a_fragment_answer_gets_the_whole_sentence_of_its_source():
    sources = [source(1, "马飚是壮族人。"), source(2, MA_BIAO)]
    quote = supporting_sentence(
        "中学毕业后，在广西柳州钢铁厂当工人。 [1]", "文革期间，马飚从事什么工作？", sources
    )
    assert quote is not None and quote.index == 2
    assert quote.sentence == "文化大革命期间，马飚中学毕业后，在广西柳州钢铁厂当工人。"
    assert quote.markdown() == f"\n\n> {quote.sentence} [2]"


def test_a_quote_holds_no_reference_number_of_the_document():
    text = "1975年起在南宁市工作[3]。文化大革命期间，马飚中学毕业后，在柳州钢铁厂当工人[12]。"
    quote = supporting_sentence("在柳州钢铁厂当工人 [1]", "马飚做什么？", [source(2, text)])
    assert quote is not None
    assert quote.markdown() == "\n\n> 文化大革命期间，马飚中学毕业后，在柳州钢铁厂当工人。 [2]"


CYCLOHEXIMIDE = "放线菌酮是一种杀真菌剂。它通过干扰蛋白质合成过程中的易位步骤而阻碍转译过程。"


@pytest.mark.parametrize(
    ("answer", "quoted"),
    [
        # the whole sentence, its subject named: the document's own words are still shown
        (  # "它" points back: the sentence before comes with it
            "放线菌酮通过干扰蛋白质合成过程中的易位步骤而阻碍转译过程。 [1]",
            CYCLOHEXIMIDE,
        ),
        (
            "Setanta Sports was awarded two of the six packages in May 2006. [1]",
            "In May 2006, Setanta Sports was awarded two of the six packages.",
        ),
    ],
)
def test_an_answer_rewriting_the_whole_sentence_gets_the_sentence_as_written(answer, quoted):
    text = (
        CYCLOHEXIMIDE
        + "\nFootball. In May 2006, Setanta Sports was awarded two of the six packages."
    )
    quote = supporting_sentence(
        answer, "What was awarded? 放线菌酮是怎样阻碍转译的？", [source(1, text)]
    )
    assert quote is not None and quote.sentence == quoted


PODOCARPUS = (
    "纽西兰鸡毛松\n对毛利人而言，此树的用途广泛，包括营养丰富的假种皮作为食物来源；"
    "木材可制成猎鸟的矛；心材经燃烧烟熏后可作为传统纹身用的颜料。它分布于北岛。"
)


def test_an_answer_drawn_from_sentences_in_a_row_gets_them_all_not_the_line_above():
    answer = "营养丰富的假种皮作为食物来源；木材可制成猎鸟的矛；心材经燃烧烟熏后可作为颜料。 [1]"
    quote = supporting_sentence(answer, "纽西兰鸡毛松有什么用途？", [source(1, PODOCARPUS)])
    assert quote is not None
    assert quote.sentence == (
        "对毛利人而言，此树的用途广泛，包括营养丰富的假种皮作为食物来源；"
        "木材可制成猎鸟的矛；心材经燃烧烟熏后可作为传统纹身用的颜料。"
    )


def test_one_sentence_when_the_next_adds_too_few_of_the_answer_s_words():
    answer = "营养丰富的假种皮作为食物来源，分布于北岛。 [1]"  # 分布/北岛: two more words only
    quote = supporting_sentence(answer, "纽西兰鸡毛松有什么用途？", [source(1, PODOCARPUS)])
    assert quote is not None
    assert quote.sentence == "对毛利人而言，此树的用途广泛，包括营养丰富的假种皮作为食物来源；"


@pytest.mark.parametrize(
    ("text", "answer", "quoted"),
    [
        (
            "1943年，盟軍進行義大利戰役。同年，杜林爆發了規模空前的大罷工並席捲整個義大利北部。",
            "杜林爆發了規模空前的大罷工並席捲義大利北部。 [1]",
            "1943年，盟軍進行義大利戰役。同年，杜林爆發了規模空前的大罷工並席捲整個義大利北部。",
        ),
        (
            "Stress is a tensor. This formalism includes pressure terms acting on the area.",
            "The stress tensor includes pressure terms acting normal to the area. [1]",
            "Stress is a tensor. This formalism includes pressure terms acting on the area.",
        ),
    ],
)
def test_a_sentence_pointing_back_is_quoted_with_the_one_before(text, answer, quoted):
    quote = supporting_sentence(answer, "Which? 哪一年?", [source(1, text)])
    assert quote is not None and quote.sentence == quoted


def test_a_sentence_pointing_back_alone_when_both_would_be_too_long():
    before = "甲" * (MAX_QUOTE_CHARS - 5) + "。"
    text = before + "同年，杜林爆發了規模空前的大罷工。"
    quote = supporting_sentence("杜林爆發了規模空前的大罷工 [1]", "哪一年?", [source(1, text)])
    assert quote is not None and quote.sentence == "同年，杜林爆發了規模空前的大罷工。"


MA_BIAO_2013 = [
    source(
        1,
        "2008年1月，当选广西壮族自治区人民政府主席。2013年3月，作为壮族代表，接替李兆焯，"
        "当选为第十二届全国政协副主席。",
    ),
    source(2, "曾任广西壮族自治区人民政府主席。现任第十二届全国政协副主席。"),
]
V_AND_A = [
    source(
        1,
        "Victoria and Albert Museum (part 3 of 6)\nThe Victoria and Albert Museum's Word and "
        "Image Department was under pressure to digitize. A project began in 2007.",
    ),
]


@pytest.mark.parametrize(
    ("sources", "answer", "question", "quoted"),
    [
        (
            MA_BIAO_2013,
            "2013年3月，马飚担任第十二届全国政协副主席。 [2]",
            "2013年3月，马飚担任什么职务？",
            "2013年3月，作为壮族代表，接替李兆焯，当选为第十二届全国政协副主席。",
        ),
        (
            V_AND_A,
            "The Victoria and Albert Museum's Word and Image Department began in 2007. [1]",
            "In which year did the V&A's Word and Image Department begin digitizing?",
            "The Victoria and Albert Museum's Word and Image Department was under pressure to "
            "digitize.",
        ),
    ],
)
def test_of_sentences_holding_about_as_much_of_the_answer_the_one_naming_the_question_s_subject(
    sources, answer, question, quoted
):
    quote = supporting_sentence(answer, question, sources)
    assert quote is not None and quote.sentence == quoted


def test_a_sentence_naming_the_question_s_subject_but_too_little_of_the_answer_is_not_quoted():
    text = (
        "The majority of exhibits date from 1550 to 1900. Most of the objects in the Japanese "
        "art collection are lacquer."
    )
    quote = supporting_sentence(
        "They are dated to the 1550 to 1900 period. [1]",
        "Most of the objects in the Japanese art collection are dated to which period?",
        [source(1, text)],
    )
    assert (
        quote is not None and quote.sentence == "The majority of exhibits date from 1550 to 1900."
    )


def test_word_for_word_ignores_punctuation_spaces_case_and_citations():
    sentence = "In May 2006, Setanta Sports was awarded two packages[3]."
    assert holds_word_for_word("in May 2006 Setanta Sports was awarded two packages [1]", sentence)
    assert not holds_word_for_word("Setanta Sports was awarded two packages in May 2006.", sentence)


@pytest.mark.parametrize(
    "answer",
    [
        "文化大革命期间，马飚中学毕业后，在广西柳州钢铁厂当工人。 [1]",  # holds it already
        "文化大革命期间马飚中学毕业后在广西柳州钢铁厂当工人 [1]",  # the same, stops aside
        "他是一位著名的京剧演员。 [1]",  # drawn from no sentence of the sources
        "马飚从事什么工作？ [1]",  # the question's words alone match no sentence
    ],
)
def test_no_quote_when_the_answer_holds_it_or_rests_on_no_sentence(answer):
    assert supporting_sentence(answer, "文革期间，马飚从事什么工作？", [source(1, MA_BIAO)]) is None


@pytest.mark.parametrize(
    ("answer", "question"),
    [
        (
            "Kenya won the first Cricket World Cup in 1975 [2].",
            "Which team won the first Cricket World Cup in 1975?",
        ),
        ("The chickenpox virus causes chickenpox. [2]", "Which virus causes chickenpox?"),
    ],
)
def test_no_quote_for_one_word_or_the_question_said_again(answer, question):
    sources = [
        source(1, "Kenya (part 6 of 6)\nThe team toured in 1975."),
        source(2, "The virus theory was in direct opposition to the miasma theory of the time."),
    ]
    assert supporting_sentence(answer, question, sources) is None


def test_no_quote_of_a_span_too_long_to_be_a_sentence():
    table = "价格表：" + "、".join(f"产品{i}售价{i}元" for i in range(60))
    assert len(table) > MAX_QUOTE_CHARS
    assert supporting_sentence("产品7售价7元 [1]", "产品7多少钱？", [source(1, table)]) is None


def test_no_quote_under_a_not_found_reply_or_an_empty_answer():
    quoter = SentenceQuoter(Refusals())
    sources = [source(1, MA_BIAO)]
    for answer in (NOT_FOUND_REPLIES["zh-Hans"], REFUSAL, "  "):
        assert list(quoter.pieces(answer, "马飚在柳州做什么？", sources)) == []
    assert list(quoter.pieces("在柳州钢铁厂当工人 [1]", "马飚在柳州做什么？", sources))


def quoting_chain(responses, processors=SHIPPED, policies=RETRIES):
    chain, llm = make_chain(responses, processors, policies, min_score=0.5)
    chain.quoter = SentenceQuoter(Refusals())
    return chain, llm


def test_the_chain_quotes_after_the_answer_it_shows():
    chain, _ = quoting_chain(["在广西柳州钢铁厂当工人。 [1]"])
    result = chain.answer("文革期间，马飚从事什么工作？", ListRetriever(documents=[doc(MA_BIAO)]))
    quote = "文化大革命期间，马飚中学毕业后，在广西柳州钢铁厂当工人。"
    assert result.text == f"在广西柳州钢铁厂当工人。 [1]\n\n> {quote} [1]"


def test_the_quote_follows_the_second_try_and_never_a_refusal():
    retriever = ListRetriever(documents=[doc("史特拉斯堡港是萊茵河沿線的第二大港口。")])
    chain, _ = quoting_chain(["史特拉斯堡港是第幾大港口？[1]", "第二大 [1]"])
    result = collect_answer(chain.stream("史特拉斯堡港是第幾大港口？", retriever))
    assert result.text == "第二大 [1]\n\n> 史特拉斯堡港是萊茵河沿線的第二大港口。 [1]"
    chain, _ = quoting_chain([REFUSAL, REFUSAL])
    result = chain.answer("史特拉斯堡港是第幾大港口？", retriever)
    assert result.text == NOT_FOUND_REPLIES["zh-Hant"]


def test_quote_source_sentence_switches_the_quote():
    assert build_qa_chain(load_settings(env={}), FakeLLM(model="fake")).quoter is not None
    off = load_settings(env={"ZHIKU_QUOTE_SOURCE_SENTENCE": "false"})
    assert build_qa_chain(off, FakeLLM(model="fake")).quoter is None
    chain, _ = make_chain(["在广西柳州钢铁厂当工人。 [1]"])  # quoter None
    result = chain.answer("马飚从事什么工作？", ListRetriever(documents=[doc(MA_BIAO)]))
    assert result.text == "在广西柳州钢铁厂当工人。 [1]"
