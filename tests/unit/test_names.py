import pytest

from rag.errors import InvalidNameError
from rag.kb.names import safe_file_name, validate_kb_name


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("a/b.md", "b.md"),
        ("C:\\docs\\報告.pdf", "報告.pdf"),
        ("CON.txt", "_CON.txt"),
        ("我的 文件 😀.md", "我的 文件 😀.md"),
        ("a\x00b.txt", "ab.txt"),
    ],
)
def test_safe_file_name(given, stored):
    assert safe_file_name(given) == stored


@pytest.mark.parametrize("given", ["..", ".", "", "   ", "a/.."])
def test_unusable_file_names_are_refused(given):
    with pytest.raises(InvalidNameError):
        safe_file_name(given)


def test_long_name_is_shortened_keeping_extension():
    name = safe_file_name("长" * 150 + ".txt")
    assert name.endswith(".txt")
    assert len(name.encode("utf-8")) <= 200


@pytest.mark.parametrize("bad", ["", "..", ".hidden", "a/b", "x\\y", "CON", "名" * 40])
def test_bad_kb_names(bad):
    with pytest.raises(InvalidNameError, match="choose another name"):
        validate_kb_name(bad)


def test_chinese_kb_name_is_fine():
    assert validate_kb_name(" 公司 制度 ") == "公司 制度"
