"""Stored originals shown to a person: where a cited passage is in a document's text, and a
PDF page rendered as an image with that passage's area highlighted.

passages.py   `locate`: the span of a text that holds a passage (whitespace, width and case
              ignored; a passage whose text differs a little from the page's still found)
pdf_pages.py  `PdfPageRenderer`: one PDF page as a PNG, the passage's character boxes drawn
text.py       `document_text`: a loaded document's sections as one text to show
"""

from rag.documents.passages import locate
from rag.documents.pdf_pages import PageImage, PdfPageRenderer
from rag.documents.text import DocumentText, document_text

__all__ = ["DocumentText", "PageImage", "PdfPageRenderer", "document_text", "locate"]
