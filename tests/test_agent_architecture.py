"""The dependency rules of docs/design.md, "Architecture", checked on the source."""

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


def test_agent_and_prompts_never_import_generation_jobs_or_api() -> None:
    above = {"generation", "jobs", "api"}
    for package in ("agent", "prompts"):
        for module, names in _imports(package).items():
            assert not names & above, f"{module} imports {names & above}"


def test_lower_layers_never_import_upwards() -> None:
    """``api → jobs → agent, generation → preference_store, prompts``: jobs never imports api,
    generation never imports agent or jobs, and neither imports api; the store and the prompts
    import none of the others."""
    forbidden = {
        "jobs": {"api"},
        "generation": {"agent", "jobs", "api"},
        "preference_store": {"agent", "generation", "jobs", "api"},
        "prompts": {"agent", "generation", "jobs", "api"},
    }
    for package, above in forbidden.items():
        for module, names in _imports(package).items():
            assert not names & above, f"{module} imports {names & above}"


def test_settings_are_read_only_in_api() -> None:
    # generation is left out only while generation/loading.py reads HF_HUB_OFFLINE itself.
    for package in ("agent", "prompts", "preference_store", "jobs"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "BaseSettings" not in text and "pydantic_settings" not in text, path
            assert "os.environ" not in text and "getenv" not in text, path


def test_jobs_and_wiring_each_live_in_one_package() -> None:
    """The job system is the top-level ``jobs/`` package and the composition root is
    ``api/wiring/``; an ``api/jobs/``, ``api/jobs_*.py`` or ``api/*_wiring.py`` would split
    each in two again."""
    top = {path.name for path in (ROOT / "api").glob("*.py")}
    strays = {name for name in top if name.startswith("jobs") or name.endswith("wiring.py")}
    assert not strays, f"move {sorted(strays)} into jobs/ or api/wiring/"
    assert not (ROOT / "api" / "jobs").exists(), "the job system is the top-level jobs/ package"
    assert (ROOT / "jobs" / "repository.py").is_file()
    assert (ROOT / "api" / "wiring" / "services.py").is_file()


def _depends_aliases(path: Path) -> list[str]:
    """Module-level names bound to ``Annotated[..., Depends(...)]``."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            calls = [n for n in ast.walk(value) if isinstance(n, ast.Call)] if value else []
            if any(getattr(c.func, "id", None) == "Depends" for c in calls):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found += [ast.unparse(t) for t in targets]
    return found


def test_routes_define_no_dependency_aliases() -> None:
    """Route modules hold routes; every FastAPI dependency alias is in ``api/deps.py``, so a
    route module never imports another route module for its dependencies."""
    for path in (ROOT / "api" / "routes").glob("*.py"):
        assert not _depends_aliases(path), f"{path.name} defines {_depends_aliases(path)}"
    assert {"GalleryDep", "OnboardingDep", "StoreDep"} <= set(
        _depends_aliases(ROOT / "api" / "deps.py")
    )
