"""The dependency rules of DESIGN.md §2, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_agent_and_prompts_never_import_generation_or_api() -> None:
    for package in ("agent", "prompts"):
        for module, names in _imports(package).items():
            assert not names & {"generation", "api"}, (
                f"{module} imports {names & {'generation', 'api'}}"
            )


def test_lower_layers_never_import_upwards() -> None:
    """``api → agent, generation → preference_store, prompts``: generation never imports agent,
    and neither imports api; the store and the prompts import none of the others."""
    forbidden = {
        "generation": {"agent", "api"},
        "preference_store": {"agent", "generation", "api"},
        "prompts": {"agent", "generation", "api"},
    }
    for package, above in forbidden.items():
        for module, names in _imports(package).items():
            assert not names & above, f"{module} imports {names & above}"


def test_settings_are_read_only_in_api() -> None:
    # generation is left out only while generation/loading.py reads HF_HUB_OFFLINE itself.
    for package in ("agent", "prompts", "preference_store"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "BaseSettings" not in text and "pydantic_settings" not in text, path
            assert "os.environ" not in text and "getenv" not in text, path
