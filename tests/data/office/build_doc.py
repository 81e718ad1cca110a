"""Rebuild purchasing.doc (run by hand; the tests only read the committed file).

Writes the .odt of `tests.fixtures_office.write_odt` and converts it to Word 97-2003 with
LibreOffice (not a dependency of zhiku: `apt-get install libreoffice-writer-nogui`):

    python tests/data/office/build_doc.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.fixtures_office import DOC_SAMPLE, write_odt  # noqa: E402


def main() -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        raise SystemExit("soffice not found: apt-get install libreoffice-writer-nogui")
    with tempfile.TemporaryDirectory() as folder:
        odt = write_odt(Path(folder), "purchasing.odt")
        subprocess.run(
            [soffice, "--headless", "--convert-to", "doc", "--outdir", folder, str(odt)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        shutil.copyfile(Path(folder) / "purchasing.doc", DOC_SAMPLE)
    print(f"wrote {DOC_SAMPLE} ({DOC_SAMPLE.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
