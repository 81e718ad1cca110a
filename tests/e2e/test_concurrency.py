"""A shorter run of scripts/load_test.py in the suite: chat clients, an uploader and a
searcher at once against the real app: no errors, answers from the right KB, uploads indexed."""

import pytest

from scripts.load_test import run

pytestmark = pytest.mark.slow


def test_concurrent_chats_uploads_and_searches(app_factory):
    app = app_factory()
    report = run(app.base_url, clients=6, uploaders=1, duration=20)
    assert report["errors"] == []
    assert report["answers"] >= 6
    assert report["uploads"] >= 3
    assert report["search_p50_ms"] < 1000  # search is not stuck behind the LLM
