"""The dependency rules of DESIGN.md §2 for the onboarding side, checked on the source."""

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


def test_agent_reads_no_settings_or_environment() -> None:
    for path in (ROOT / "agent").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "os.environ" not in text and "getenv" not in text, path
        assert "BaseSettings" not in text, path
