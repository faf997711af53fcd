"""Settings decide which real components are built: embedded or server chromadb, SQLite path."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings
from api.wiring.services import Components
from preference_store.models import AttributeDraft, Polarity
from tests.doubles.chroma_server import chroma_server_url  # noqa: F401  (fixture)


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_DATA_DIR", "/srv/taste")
    monkeypatch.setenv("TASTEMAKER_CHROMA_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    settings = Settings()
    assert settings.data_dir == Path("/srv/taste")
    assert settings.resolved_database_url == "sqlite:////srv/taste/tastemaker.db"
    assert settings.chroma_url == "http://127.0.0.1:9"
    assert settings.resolved_llm_api_key == "sk-from-env"
    assert not settings.llm_configured


def test_embedded_defaults_write_under_the_data_dir(tmp_path: Path) -> None:
    components = Components(Settings(data_dir=tmp_path / "d"))
    components.store.add("alice", [AttributeDraft(text="teal palette", polarity=Polarity.LIKE)])
    assert (tmp_path / "d" / "tastemaker.db").exists()
    assert (tmp_path / "d" / "chroma").is_dir()


def test_chroma_url_uses_the_server(tmp_path: Path, chroma_server_url: str) -> None:  # noqa: F811
    settings = Settings(data_dir=tmp_path / "d", chroma_url=chroma_server_url)
    Components(settings).store.add(
        "wiring-user", [AttributeDraft(text="neon glow", polarity=Polarity.LIKE)]
    )
    assert not (tmp_path / "d" / "chroma").exists()
    fresh = Components(settings)  # another client sees it: it lives in the server
    assert [a.text for a in fresh.store.list_attributes("wiring-user")] == ["neon glow"]
