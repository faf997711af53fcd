"""The CLI starts like `git`: reading commands never load torch or the embedding model.

Each check runs in a fresh interpreter, because this test process has torch loaded already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli_runner import run_cli

# Runs the real entry point, then reports which heavy modules it pulled in.
_PROBE = """
import json, sys
from api.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit_:
    code = exit_.code or 0
else:
    code = 0
heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers", "diffusers")
               if m in sys.modules)
print("PROBE" + json.dumps({"code": code, "heavy": heavy}))
"""


def _probe(data_dir: Path, *args: str) -> dict[str, object]:
    env = {**os.environ, "TASTEMAKER_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("PROBE"))
    result: dict[str, object] = json.loads(line.removeprefix("PROBE"))
    result["stdout"] = done.stdout
    return result


def test_help_does_not_import_torch(tmp_path: Path) -> None:
    result = _probe(tmp_path / "data", "--help")
    assert result["code"] == 0
    assert "prefs" in str(result["stdout"])
    assert result["heavy"] == []


@pytest.mark.slow
def test_reading_a_profile_does_not_import_torch(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The profile is written in this process (torch is loaded here anyway); only the reads run
    # in fresh interpreters, four at once (each one's imports are its own).
    added = run_cli(capsys, "prefs", "add", "alice", "like", "teal palette", "--category", "color")
    assert added.code == 0, added.stderr
    reads = (
        (("prefs", "show", "alice"), "teal palette"),
        (("prefs", "show", "alice", "--version", "1"), "teal palette"),
        (("prefs", "versions", "alice"), "prefs add"),
        (("prefs", "diff", "alice", "0", "1"), "teal palette"),
    )
    with ThreadPoolExecutor(len(reads)) as pool:
        results = list(pool.map(lambda read: _probe(data_dir, *read[0]), reads))
    for (args, expected), result in zip(reads, results, strict=True):
        assert result["code"] == 0, result
        assert expected in str(result["stdout"]), args
        assert result["heavy"] == [], args


def test_the_lazy_embedder_knows_its_size_without_loading_and_loads_once() -> None:
    from preference_store.embeddings import (
        LazyEmbedder,
        SentenceTransformerEmbedder,
        declared_dimension,
        packaged_minilm_path,
    )

    loads: list[str] = []

    def load() -> SentenceTransformerEmbedder:
        loads.append("loaded")
        return SentenceTransformerEmbedder(packaged_minilm_path())

    path = packaged_minilm_path()
    lazy = LazyEmbedder("all-MiniLM-L6-v2", load, dimension=declared_dimension(path))
    assert lazy.dimension == 384 and loads == []
    assert lazy.embed([]) == [] and loads == []
    first, second = lazy.embed(["teal palette"]), lazy.embed(["film grain"])
    assert len(first[0]) == len(second[0]) == 384
    assert loads == ["loaded"]
