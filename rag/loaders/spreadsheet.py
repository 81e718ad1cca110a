"""CSV/TSV (stdlib csv, encoding detected like text files) and XLSX (openpyxl, read-only).

Each row is written with its column names ("列名: 值; ..."), rows grouped to about 500
characters, so a chunk about a row still says what each value means. XLSX: one set of
groups per sheet, `sheet` and `title_path` set to the sheet name; cached values of
formulas are used.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, Section
from rag.loaders._encoding import read_text_file
from rag.loaders._structure import table_row_groups
from rag.loaders._zipcheck import check_zip

_SNIFF_CHARS = 8192
_DELIMITERS = ",;\t|"


def load_csv(path: Path, limits: LoadLimits) -> list[Section]:
    """Row groups of a comma-, semicolon-, tab- or pipe-separated file."""
    del limits
    return _csv_sections(read_text_file(path), _guess_delimiter)


def load_tsv(path: Path, limits: LoadLimits) -> list[Section]:
    """Row groups of a tab-separated file."""
    del limits
    return _csv_sections(read_text_file(path), lambda _: "\t")


def _csv_sections(text: str, delimiter_for: Callable[[str], str]) -> list[Section]:
    delimiter = delimiter_for(text[:_SNIFF_CHARS])
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise DocumentLoadError(
            f"not a valid CSV file ({exc}) — check its quoting and upload it again"
        ) from exc
    return [Section(group, table=True) for group in table_row_groups(rows)]


def _guess_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def load_xlsx(path: Path, limits: LoadLimits) -> list[Section]:
    """Row groups per worksheet, with `sheet` and `title_path` = sheet name."""
    check_zip(path, ".xlsx", limits.max_unzipped_bytes)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise DocumentLoadError(
            "not a valid .xlsx (corrupt, or an old .xls renamed) — open it in Excel or WPS, "
            "save it as .xlsx and upload it again"
        ) from exc
    try:
        sections: list[Section] = []
        for sheet in workbook.worksheets:
            rows = sheet.iter_rows(values_only=True)
            for group in table_row_groups(rows):
                sections.append(
                    Section(group, title_path=sheet.title, sheet=sheet.title, table=True)
                )
        return sections
    finally:
        workbook.close()
