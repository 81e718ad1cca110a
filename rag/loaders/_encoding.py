"""Decode the bytes of a text file: BOMs, UTF-8, GBK/GB18030, Big5, then charset-normalizer.

charset-normalizer alone often mistakes GBK for Big5 (and back) on short Chinese texts, so
UTF-8 is tried strictly first, then GB18030 and Big5 (cp950) are each decoded strictly and
scored by how many of their non-ASCII characters are common Chinese characters or CJK
punctuation: a right guess scores close to 1, a wrong one (garbled, rare characters) far
lower. Only if neither is convincing does charset-normalizer decide.
"""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from charset_normalizer import from_bytes

from rag.errors import DocumentLoadError

_SAMPLE_BYTES = 64 * 1024
_SCORE_SAMPLE_CHARS = 20_000
_MIN_CJK_SCORE = 0.8
_MAX_CONTROL_RATIO = 0.05
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_MAGIC: tuple[bytes, ...] = (
    b"\x7fELF",
    b"\x89PNG",
    b"%PDF-",
    b"PK\x03\x04",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\xd0\xcf\x11\xe0",  # OLE2: .doc/.xls/.ppt
)
_CJK_PUNCTUATION = frozenset("“”‘’…—·")
_BINARY_MESSAGE = (
    "binary content in a text file (is it really text? a program, image or archive "
    "renamed to a text extension?) — upload the original document instead"
)


def read_text_file(path: Path) -> str:
    """Read and decode a text file; raise DocumentLoadError for binary or undecodable data."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(f"cannot read the file ({exc.strerror})") from exc
    return decode_text(data)


def decode_text(data: bytes) -> str:
    """Decode bytes of unknown encoding (see the module docstring).

    A few stray NUL bytes are tolerated (they are stripped later); binary data (many
    control characters once decoded, or a known binary file signature) is refused.
    """
    text = _decode_with_bom(data)
    if text is None:
        text = _decode_without_bom(data)
    if _control_ratio(text) > _MAX_CONTROL_RATIO:
        raise DocumentLoadError(_BINARY_MESSAGE)
    return text


def _decode_with_bom(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise DocumentLoadError(
                    f"the file starts with a {encoding} byte-order mark but is not valid "
                    f"{encoding} — save it again as UTF-8 and upload it again"
                ) from exc
    return None


def _decode_utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text saved without a BOM: mostly ASCII, or mostly common Chinese characters.

    Binary data decoded as UTF-16 gives either control characters (runs of NUL bytes) or
    random code points, which neither test accepts.
    """
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:_SCORE_SAMPLE_CHARS]
        if not sample or _control_ratio(sample) > _MAX_CONTROL_RATIO / 5:
            continue
        ascii_share = sum(1 for char in sample if ord(char) < 0x80) / len(sample)
        if ascii_share >= 0.5 or chinese_score(sample) >= _MIN_CJK_SCORE:
            return text
    return None


def _decode_without_bom(data: bytes) -> str:
    sample = data[:_SAMPLE_BYTES]
    if sample.startswith(_BINARY_MAGIC):
        raise DocumentLoadError(_BINARY_MESSAGE)
    if b"\x00" in sample:
        utf16 = _decode_utf16_without_bom(data)
        if utf16 is not None:
            return utf16
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    chinese = _decode_chinese(data)
    if chinese is not None:
        return chinese
    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    if _control_ratio(sample.decode("latin-1")) > _MAX_CONTROL_RATIO:
        raise DocumentLoadError(_BINARY_MESSAGE)
    raise DocumentLoadError(
        "cannot detect the text encoding — save the file as UTF-8 and upload it again"
    )


def _decode_chinese(data: bytes) -> str | None:
    """The best of GB18030 and Big5 decodings, if one looks like real Chinese text."""
    best_text: str | None = None
    best_score = _MIN_CJK_SCORE
    for encoding in ("gb18030", "cp950"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = chinese_score(text[:_SCORE_SAMPLE_CHARS])
        if score >= best_score:
            best_text, best_score = text, score
    return best_text


def chinese_score(text: str) -> float:
    """Share of non-ASCII characters that are common hanzi or CJK punctuation (0..1)."""
    non_ascii = [char for char in text if ord(char) > 0x7F]
    if not non_ascii:
        return 1.0
    good = sum(1 for char in non_ascii if _is_plausible_cjk(char))
    return good / len(non_ascii)


def _is_plausible_cjk(char: str) -> bool:
    code = ord(char)
    if 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF or char in _CJK_PUNCTUATION:
        return True
    return _is_common_simplified(char) or _is_common_traditional(char)


def _is_common_simplified(char: str) -> bool:
    """In GB2312 (levels 1 and 2: the 6763 hanzi of everyday simplified Chinese)."""
    try:
        encoded = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(encoded) == 2 and 0xB0 <= encoded[0] <= 0xF7


def _is_common_traditional(char: str) -> bool:
    """In Big5's frequently-used block (0xA440-0xC67E: 5401 hanzi)."""
    try:
        encoded = char.encode("big5")
    except UnicodeEncodeError:
        return False
    return len(encoded) == 2 and 0xA440 <= int.from_bytes(encoded, "big") <= 0xC67E


def _control_ratio(text: str) -> float:
    sample = text[:_SAMPLE_BYTES]
    if not sample:
        return 0.0
    controls = sum(
        1 for char in sample if char not in "\t\n\r\f\v\x1b" and unicodedata.category(char) == "Cc"
    )
    return controls / len(sample)
