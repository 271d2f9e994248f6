"""A copy of the demo database whose state has been moved to a throwaway PostgreSQL."""

import shutil

import pytest

from sales.cli import main


@pytest.fixture
def shared_demo(demo_db, postgres_url, tmp_path, monkeypatch):
    """(file, url): the demo copied to tmp_path, its state migrated to PostgreSQL, and the
    environment pointing at both (state mode)."""
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    assert main(["state", "migrate", "--to", postgres_url, "--db", str(path)]) == 0
    monkeypatch.setenv("SALES_DB", str(path))
    monkeypatch.setenv("SALES_STATE_URL", postgres_url)
    return path, postgres_url
