"""E-mail: .eml (standard library `email`, policy.default) and Outlook .msg (extract-msg).

The mail's text starts with its header lines (subject, from, to, cc, date: "主题: ...") and a
line naming its attachments, so that "who sent the offer, and when" finds them; the subject is
the title path of every section. The body is the text/plain part, else the HTML part read like
an .html file (headings, tables). Attachments are read by the loader of their own type and
cited as `mail.eml/attachment.pdf` (`_parts.py`); one that cannot be read is named with the
reason in the attachments line.
"""

from __future__ import annotations

import datetime
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, PartLoader, Section
from rag.loaders._encoding import decode_text
from rag.loaders._parts import Attachment, attachment_sections
from rag.loaders.web import html_sections

_MAX_HEADER_CHARS = 500
"""A longer header value (hundreds of recipients) is cut: it is context, not content."""
_SUBJECT, _FROM, _TO, _CC, _DATE, _ATTACHMENTS = "主题", "发件人", "收件人", "抄送", "日期", "附件"


@dataclass(frozen=True)
class Mail:
    """What a mail loader found, before the attachments are read."""

    subject: str
    headers: list[tuple[str, str]]
    """(label, value) in display order; empty values are left out of the text."""
    body: list[Section]
    attachments: list[Attachment]


def mail_sections(mail: Mail, limits: LoadLimits, load_part: PartLoader) -> list[Section]:
    """The body's sections, the first headed by the header lines, then the attachments'."""
    attached, listing = attachment_sections(mail.attachments, limits, load_part)
    lines = [f"{label}: {_cut(value)}" for label, value in mail.headers if value.strip()]
    if listing:
        lines.append(f"{_ATTACHMENTS}: " + "; ".join(listing))
    head = "\n".join(lines)
    body = list(mail.body)
    if body:
        body[0] = replace(body[0], text=f"{head}\n\n{body[0].text}" if head else body[0].text)
    elif head:
        body = [Section(head, title_path=mail.subject)]
    return [*body, *attached]


def _cut(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= _MAX_HEADER_CHARS else value[:_MAX_HEADER_CHARS] + " …"


def body_sections(text: str | None, html: str | bytes | None, subject: str) -> list[Section]:
    """The plain text as one section, else the HTML's sections; rooted at the subject."""
    if text and text.strip():
        return [Section(text, title_path=subject)]
    if html:
        return html_sections(html, root=(subject,) if subject else ())
    return []


# ---- .eml -------------------------------------------------------------------------------


def load_eml(path: Path, limits: LoadLimits, load_part: PartLoader) -> list[Section]:
    """A saved e-mail (RFC 5322, MIME): headers, body, attachments."""
    try:
        with open(path, "rb") as handle:
            message = BytesParser(policy=policy.default).parse(handle)
    except OSError as exc:
        raise DocumentLoadError(f"cannot read the file ({exc.strerror})") from exc
    assert isinstance(message, EmailMessage)  # policy.default makes EmailMessages
    return mail_sections(_eml_mail(message), limits, load_part)


def _eml_mail(message: EmailMessage) -> Mail:
    subject = str(message.get("subject") or "").strip()
    headers = [
        (_SUBJECT, subject),
        (_FROM, str(message.get("from") or "")),
        (_TO, str(message.get("to") or "")),
        (_CC, str(message.get("cc") or "")),
        (_DATE, _eml_date(message)),
    ]
    text = html = None
    body = message.get_body(preferencelist=("plain", "html"))
    if isinstance(body, EmailMessage):
        content = _part_text(body)
        if body.get_content_type() == "text/html":
            html = content
        else:
            text = content
    attachments = [_eml_attachment(part) for part in _attached_parts(message)]
    return Mail(subject, headers, body_sections(text, html, subject), attachments)


def _eml_date(message: EmailMessage) -> str:
    header = message.get("date")
    when = getattr(header, "datetime", None)
    if isinstance(when, datetime.datetime):
        return when.isoformat(sep=" ")
    return str(header or "")


def _part_text(part: EmailMessage) -> str:
    """A text part's content; its bytes decoded like a text file when its declared charset
    is unknown or wrong."""
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError):
        pass
    payload = part.get_payload(decode=True)
    return decode_text(payload) if isinstance(payload, bytes) else ""


def _attached_parts(message: EmailMessage) -> Iterator[EmailMessage]:
    """The attachments: the non-body parts, multiparts among them opened, an attached
    mail (message/rfc822) kept whole."""

    def leaves(part: Message) -> Iterator[EmailMessage]:
        if part.get_content_type() != "message/rfc822" and part.is_multipart():
            for sub in part.get_payload():
                if isinstance(sub, Message):
                    yield from leaves(sub)
        elif isinstance(part, EmailMessage):
            yield part

    for part in message.iter_attachments():
        yield from leaves(part)


def _eml_attachment(part: EmailMessage) -> Attachment:
    name = part.get_filename() or ""
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else None
        attached = first if isinstance(first, Message) else None
        data = attached.as_bytes() if attached is not None else b""
        return Attachment(name or f"{_attached_subject(attached)}.eml", data)
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    if not name:
        name = _unnamed(part.get_content_type())
    return Attachment(name, data)


def _attached_subject(attached: Message | None) -> str:
    subject = str(attached.get("subject") or "").strip() if attached is not None else ""
    return subject or "message"


def _unnamed(content_type: str) -> str:
    """A name for a part sent without one, its extension guessed from its type so that
    the loader of that type reads it ("attachment.pdf")."""
    return f"attachment{mimetypes.guess_extension(content_type) or ''}"


# ---- .msg -------------------------------------------------------------------------------


def load_msg(path: Path, limits: LoadLimits, load_part: PartLoader) -> list[Section]:
    """An Outlook message saved as .msg: headers, body, attachments (an attached message
    as a .msg of its own)."""
    # imported here: extract-msg takes ~1 s to import, paid only when a .msg is uploaded
    import extract_msg

    try:
        message = extract_msg.openMsg(str(path), strict=False)
    except Exception as exc:  # extract-msg raises many kinds on a file that is not a message
        raise DocumentLoadError(
            f"not a valid Outlook .msg ({type(exc).__name__}: {exc}) — save the message again "
            "from Outlook (or as .eml) and upload it again"
        ) from exc
    try:
        mail = _msg_mail(message)
    finally:
        message.close()
    return mail_sections(mail, limits, load_part)


def _msg_mail(message: Any) -> Mail:
    subject = str(getattr(message, "subject", None) or "").strip()
    when = getattr(message, "date", None)
    headers = [
        (_SUBJECT, subject),
        (_FROM, str(getattr(message, "sender", None) or "")),
        (_TO, str(getattr(message, "to", None) or "")),
        (_CC, str(getattr(message, "cc", None) or "")),
        (_DATE, when.isoformat(sep=" ") if isinstance(when, datetime.datetime) else ""),
    ]
    text = getattr(message, "body", None)
    html = None if text and str(text).strip() else getattr(message, "htmlBody", None)
    body = body_sections(str(text) if text else None, html, subject)
    attachments = [_msg_attachment(a) for a in getattr(message, "attachments", [])]
    return Mail(subject, headers, body, attachments)


def _msg_attachment(attachment: Any) -> Attachment:
    # getattr: extract-msg's kinds of attachment (web links, signed, broken) differ in these
    name = str(
        getattr(attachment, "longFilename", None)
        or getattr(attachment, "shortFilename", None)
        or ""
    )
    data = getattr(attachment, "data", None)
    if isinstance(data, bytes):
        return Attachment(name, data)
    export = getattr(data, "exportBytes", None)  # an attached message
    if callable(export):
        subject = str(getattr(data, "subject", None) or "").strip() or "message"
        name = _with_suffix(name or subject, ".msg")
        try:
            # allowBadEmbed: repairs what some writers get wrong in an attached message
            return Attachment(name, export(allowBadEmbed=True))
        except Exception as exc:  # extract-msg's many kinds of error on a broken message
            return Attachment(name, b"", f"could not extract it ({type(exc).__name__})")
    return Attachment(
        name or "attachment", b"", "not a file: a link, or one extract-msg cannot read"
    )


def _with_suffix(name: str, suffix: str) -> str:
    return name if name.lower().endswith(suffix) else f"{name}{suffix}"
