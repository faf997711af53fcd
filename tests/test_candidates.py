"""Best-of-N (issue 22; design.md, "Taste from choices"): ``generate --candidates N`` and HTTP
``"candidates": N`` render N seeds and hand them back best first by the person's taste match,
each PNG with its taste_match and its own seed. Real CLI and app, tiny pipeline and CLIP, real
MiniLM, SQLite, the built-in gallery."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_api_corrections)

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.wiring.services import Components
from generation.png import read_png_metadata
from preference_store.models import AttributeDraft, Category, Polarity
from tests.cli_runner import ok, run_cli
from tests.test_api_choices import _warm_answer
from tests.test_api_corrections import client  # noqa: F401  (fixture)

FAST = ["--model", "tiny", "--steps", "2", "--width", "64", "--height", "64", "--seed", "5"]
Client = tuple[TestClient, dict[str, dict[str, str]]]


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_generate_candidates_writes_them_best_first_and_each_seed_makes_its_image_again(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("1\n2\n1\n0\n2\n1\n"))
    ok(run_cli(capsys, "pick", "alice", "--rounds", "6", "--create"))
    out = tmp_path / "out"
    args = ["generate", "--user", "alice", *FAST, "--out", str(out), "--candidates", "3"]
    reply = json.loads(ok(run_cli(capsys, *args, "--json", "a red house")))

    files = [Path(f) for f in reply["files"]]
    assert len(files) == 3 and len(list(out.glob("*.png"))) == 3
    chunks = [read_png_metadata(f) for f in files]
    matches = [float(c["tastemaker:taste_match"]) for c in chunks]
    assert matches == reply["taste_matches"] == sorted(matches, reverse=True)
    assert len(set(matches)) > 1, "the taste model ranks the noise images alike: no test"
    assert "taste_note" not in reply
    seeds = [int(c["tastemaker:seed"]) for c in chunks]
    assert sorted(seeds) == [5, 6, 7]
    assert all(f.name.endswith(f"-{s}.png") for f, s in zip(files, seeds, strict=True))
    assert [int(c["tastemaker:image_index"]) for c in chunks] == [s - 5 for s in seeds]

    # Each PNG's chunks make that same image again, whatever its place in the ranking.
    for number, (path, seed) in enumerate(zip(files, seeds, strict=True)):
        again = tmp_path / f"again-{number}"
        remake = ["generate", "--user", "alice", "--from-png", str(path), "--out", str(again)]
        ok(run_cli(capsys, *remake))
        (made,) = again.glob("*.png")
        assert made.name.endswith(f"-{seed}.png")
        assert np.array_equal(_pixels(made), _pixels(path))

    # The text output lists them best first with their matches.
    text = ok(run_cli(capsys, *args, "--out", str(tmp_path / "text"), "a red house"))
    wrote = [line for line in text.splitlines() if line.startswith("wrote ")]
    shown = [float(line.rsplit("taste match ", 1)[1].rstrip(")")) for line in wrote]
    assert len(wrote) == 3 and shown == sorted(shown, reverse=True)

    # `score` reads each PNG's prompt as its description, as the ranking did: the same match.
    scored = json.loads(ok(run_cli(capsys, "score", "-u", "alice", "--model", "tiny", "--json",
                                   *map(str, files))))  # fmt: skip
    assert [row["taste_match"] for row in scored] == pytest.approx(matches, abs=1e-4)


def _flat_run(capsys: pytest.CaptureFixture[str], user: str, out: Path) -> list[str]:
    """generate --candidates 3 for a person whose model cannot tell the images apart: the
    note is printed and the seed order kept; the taste_match chunks, in that order."""
    text = ok(run_cli(capsys, "generate", "--user", user, *FAST, "--out", str(out),
                      "--candidates", "3", "a red house"))  # fmt: skip
    assert "no taste signal yet" in text and "seed order" in text
    wrote = [Path(line.split()[1]) for line in text.splitlines() if line.startswith("wrote ")]
    chunks = [read_png_metadata(path) for path in wrote]
    assert [c["tastemaker:seed"] for c in chunks] == ["5", "6", "7"]
    return [c["tastemaker:taste_match"] for c in chunks]


def test_no_taste_signal_keeps_seed_order_and_says_so(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(run_cli(capsys, "users", "create", "bob"))
    assert set(_flat_run(capsys, "bob", tmp_path / "bob")) == {"0.5000"}

    # Words alone weigh only the text half, the same prompt for every candidate: equal matches.
    components = Components()
    components.accounts.ensure("carol")
    teal = AttributeDraft(text="teal palette", category=Category.COLOR, polarity=Polarity.LIKE)
    components.store.add("carol", [teal], reason="test")
    (match,) = set(_flat_run(capsys, "carol", tmp_path / "carol"))
    assert match != "0.5000"
    # `score` tells carol the same match as her PNGs carry, though she has never picked
    made = [str(p) for p in sorted((tmp_path / "carol").glob("*.png"))]
    scored = json.loads(ok(run_cli(capsys, "score", "-u", "carol", "--model", "tiny", "--json",
                                   *made)))  # fmt: skip
    assert [row["taste_match"] for row in scored] == pytest.approx([float(match)] * 3, abs=1e-4)


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--candidates", "9"], "candidates"),
        (["--candidates", "0"], "candidates"),
        (["--candidates", "2", "--num-images", "3"], "num_images"),
        (["--candidates", "2", "--from-png", "x.png"], "--candidates"),
    ],
)
def test_bad_candidates_are_a_one_line_error_and_write_nothing(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    said: str,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    ok(run_cli(capsys, "users", "create", "bob"))
    out = tmp_path / "out"
    refused = run_cli(capsys, "generate", "--user", "bob", *FAST, "--out", str(out), *flags, "x")
    assert refused.code == 1 and said in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not out.exists()


def _done(http: TestClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = http.get(f"/v1/generations/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            assert job["status"] == "done", job["error"]
            return job
        time.sleep(0.1)
    raise AssertionError(f"generation {job_id} never finished")


def _candidates(http: TestClient, headers: dict[str, str], **extra: Any) -> Any:
    body = {"prompt": "a warm orange sunset", "steps": 2, "width": 64, "height": 64, "seed": 11}
    return http.post("/v1/generations", headers=headers, json={**body, **extra})


def _chunks(http: TestClient, headers: dict[str, str], url: str) -> dict[str, str]:
    reply = http.get(url, headers=headers)
    assert reply.status_code == 200
    with Image.open(io.BytesIO(reply.content)) as image:
        return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}


def test_http_candidates_come_back_best_first_with_their_taste_match(client: Client) -> None:
    http, tokens = client
    alice, bob = tokens["alice"], tokens["bob"]
    # bob has no taste signal: seed order, every match 0.5, and the reply says why. (First: the
    # worker's models are loaded before alice's pairs load CLIP in the app; see the report.)
    flat = _done(http, bob, _candidates(http, bob, candidates=3).json()["id"])
    assert flat["taste_matches"] == [0.5, 0.5, 0.5] and "no taste signal" in flat["taste_note"]
    seeds = [_chunks(http, bob, url)["tastemaker:seed"] for url in flat["image_urls"]]
    assert seeds == ["11", "12", "13"]

    session = http.post("/v1/onboarding", headers=alice).json()["id"]
    pair = http.get(f"/v1/onboarding/{session}/pair", headers=alice).json()
    for _ in range(6):
        answer = {"pair_id": pair["pair_id"], "choice": _warm_answer(pair)}
        pair = http.post(f"/v1/onboarding/{session}/choices", headers=alice, json=answer).json()

    for bad in ({"candidates": 9}, {"candidates": 0}, {"candidates": True},
                {"candidates": 2, "num_images": 3}):  # fmt: skip
        refused = _candidates(http, alice, **bad)
        assert refused.status_code == 422, (bad, refused.text)

    accepted = _candidates(http, alice, candidates=3)
    assert accepted.status_code == 202, accepted.text
    job = _done(http, alice, accepted.json()["id"])
    matches = job["taste_matches"]
    assert len(job["image_urls"]) == 3 and matches == sorted(matches, reverse=True)
    assert job["taste_note"] is None
    chunks = [_chunks(http, alice, url) for url in job["image_urls"]]
    assert [float(c["tastemaker:taste_match"]) for c in chunks] == matches
    assert sorted(int(c["tastemaker:seed"]) for c in chunks) == [11, 12, 13]
