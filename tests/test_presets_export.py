"""`prefs export --format` and `GET /v1/preferences/presets/{format}`: presets written where a
person keeps them, the bundle's files, the download, and bad input that changes nothing."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from safetensors.torch import load as load_safetensors

from api.app import create_app
from api.settings import Settings
from api.wiring.services import Components
from generation.style_formats import to_blob
from preference_store.models import ImageReaction
from preference_store.styles import StyleRecord
from tests.cli_runner import Cli, ok, wide_cli
from tests.doubles.tiny_models import build_tiny_sd

STYLES = (
    "name,prompt,negative_prompt\r\n"
    'Cinematic,"cinematic still {prompt}, film grain","cartoon, flat"\r\n'
    "Watercolor,watercolor painting of {prompt},photo\r\n"
)
TOKEN = torch.randn(1, 32, generator=torch.Generator().manual_seed(3))


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


def give_taste(components: Components, images: Path) -> None:
    """alice: two liked attributes, one disliked, a style token for `tiny`, and three liked
    images: a file, one kept in the blob store, and one whose file is gone."""
    from preference_store.models import AttributeDraft, Category, Polarity

    store = components.store
    components.accounts.ensure("alice")
    drafts = [
        ("warm golden light", Category.LIGHTING, Polarity.LIKE, 0.9),
        ("teal palette", Category.COLOR, Polarity.LIKE, 0.5),
        ("lens flare", Category.LIGHTING, Polarity.DISLIKE, 0.8),
    ]
    store.add(
        "alice",
        [AttributeDraft(text=t, category=c, polarity=p, strength=s) for t, c, p, s in drafts],
    )
    images.mkdir()
    (images / "dune.png").write_bytes(png((200, 150, 40)))
    components.blobs.put("generated/abc", png((10, 120, 130)))
    liked = [
        ImageReaction(image_id="g-dune", path=str(images / "dune.png")),
        ImageReaction(image_id="gen abc", path="blob:generated/abc", weight=0.8),
        ImageReaction(image_id="gone", path=str(images / "gone.png")),
    ]
    store.set_images("alice", liked, [], reason="test images")
    components.styles.add(
        StyleRecord(user_id="alice", model="tiny", family="clip_l:32", name="<alice-style>"),
        to_blob({"clip_l": TOKEN}),
    )
    components.accounts.ensure("bob")  # no taste yet


@pytest.fixture()
def cli(data_dir: Path, tmp_path: Path, capsys, monkeypatch) -> Cli:
    give_taste(Components(), tmp_path / "images")
    return wide_cli(capsys, monkeypatch)


def read_styles(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:  # as A1111 opens it
        return list(csv.DictReader(file, skipinitialspace=True))


def test_styles_csv_gets_our_row_and_keeps_the_rest(cli: Cli, tmp_path: Path) -> None:
    styles = tmp_path / "webui" / "styles.csv"
    styles.parent.mkdir()
    styles.write_text(STYLES, encoding="utf-8", newline="")
    out = ok(cli("prefs", "export", "alice", "--format", "a1111-styles", "--out", str(styles)))
    assert "updated" in out
    assert styles.read_bytes().startswith(STYLES.encode())  # byte for byte
    rows = read_styles(styles)
    assert [r["name"] for r in rows] == ["Cinematic", "Watercolor", "tastemaker-alice"]
    assert rows[2]["prompt"] == "{prompt}, (warm golden light:1.18), (teal palette:1.1)"
    assert rows[2]["negative_prompt"] == "(lens flare:1.16)"

    ok(cli("prefs", "add", "alice", "like", "film grain", "--category", "texture"))
    ok(cli("prefs", "export", "alice", "--format", "a1111-styles", "--out", str(styles)))
    rows = read_styles(styles)
    assert [r["name"] for r in rows] == ["Cinematic", "Watercolor", "tastemaker-alice"]
    assert "(film grain:1.14)" in rows[2]["prompt"]  # replaced in place, not added again


def test_a_named_profile_exports_its_own_taste_under_its_own_name(cli: Cli, tmp_path: Path) -> None:
    ok(cli("profiles", "create", "alice", "zines"))
    ok(cli("prefs", "add", "alice", "like", "risograph grain", "--profile", "zines"))
    styles = tmp_path / "styles.csv"
    for profile in ("default", "zines"):
        ok(cli("prefs", "export", "alice", "--profile", profile, "--format", "a1111-styles",
               "--out", str(styles)))  # fmt: skip
    rows = {r["name"]: r for r in read_styles(styles)}
    assert list(rows) == ["tastemaker-alice", "tastemaker-alice-zines"]
    assert "risograph grain" in rows["tastemaker-alice-zines"]["prompt"]
    assert "risograph grain" not in rows["tastemaker-alice"]["prompt"]
    assert "warm golden light" not in rows["tastemaker-alice-zines"]["prompt"]


def test_fooocus_and_invoke_print_or_write(cli: Cli, tmp_path: Path) -> None:
    (fooocus,) = json.loads(ok(cli("prefs", "export", "alice", "--format", "fooocus")))
    assert fooocus["prompt"].startswith("{prompt}, (warm golden light:1.18)")
    invoke_file = tmp_path / "invoke.json"
    ok(cli("prefs", "export", "alice", "--format", "invoke", "--out", str(invoke_file)))
    (invoke,) = json.loads(invoke_file.read_text(encoding="utf-8"))
    assert set(invoke) == {"name", "positive_prompt", "negative_prompt"}
    assert invoke["positive_prompt"] == "{prompt}, (warm golden light)1.18, (teal palette)1.1"


def test_bundle_holds_presets_tokens_images_and_a_readme(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "alice-bundle"
    said = ok(cli("prefs", "export", "alice", "--format", "bundle", "--out", str(out)))
    assert "left out: liked image gone: file not found" in said
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "a1111/styles.csv",
        "diffusers/tastemaker-alice/learned_embeds.safetensors",
        "embeddings/tastemaker-alice.safetensors",
        "fooocus/sdxl_styles_tastemaker-alice.json",
        "invoke/tastemaker-alice.json",
        "references/01-g-dune.png",
        "references/02-gen-abc.png",
    ]
    assert Image.open(out / "references/02-gen-abc.png").getpixel((0, 0)) == (10, 120, 130)
    a1111 = load_safetensors((out / "embeddings/tastemaker-alice.safetensors").read_bytes())
    assert torch.equal(a1111["emb_params"], TOKEN)
    pipe = build_tiny_sd()  # diffusers' own loader is the judge of the diffusers file
    pipe.load_textual_inversion(str(out / "diffusers/tastemaker-alice/learned_embeds.safetensors"))
    token_id = pipe.tokenizer.convert_tokens_to_ids("tastemaker-alice")
    assert torch.equal(pipe.text_encoder.get_input_embeddings().weight[token_id], TOKEN[0])
    readme = (out / "README.md").read_text(encoding="utf-8")
    for said_there in ("aesthetic embedding", "A1111", "Fooocus", "InvokeAI", "gone: file not"):
        assert said_there in readme
    assert [r["name"] for r in read_styles(out / "a1111/styles.csv")] == ["tastemaker-alice"]

    ok(cli("prefs", "add", "alice", "like", "film grain", "--category", "texture"))
    ok(cli("prefs", "export", "alice", "--format", "bundle", "--out", str(out)))  # replaced
    assert "film grain" in (out / "invoke/tastemaker-alice.json").read_text(encoding="utf-8")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".alice-bundle")]


def test_bad_input_is_one_line_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    styles = tmp_path / "styles.csv"
    styles.write_text('{"not": "a csv"}\n', encoding="utf-8")
    blocked = tmp_path / "a-file"
    blocked.write_text("x", encoding="utf-8")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine", encoding="utf-8")
    cases = [
        (["alice", "--format", "midjourney"], "--format must be one of"),
        (["alice", "--format", "a1111-styles", "--out", str(styles)], "not an A1111 styles.csv"),
        (["alice", "--format", "fooocus", "--out", str(blocked / "x.json")], "cannot write"),
        (["alice", "--format", "bundle"], "--out DIR"),
        (["alice", "--format", "bundle", "--out", str(theirs)], "other files in it"),
        (["alice", "--format", "bundle", "--out", str(blocked)], "is a file"),
        (["alice", "--format", "invoke", "--out", str(theirs)], "is a folder"),
        (["bob", "--format", "fooocus"], "no liked or disliked attributes"),
        (["carol", "--format", "fooocus"], "user 'carol' does not exist"),
    ]
    before = sorted(tmp_path.rglob("*"))
    for args, message in cases:
        result = cli("prefs", "export", *args)
        assert result.code == 1, args
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, args
    assert sorted(tmp_path.rglob("*")) == before
    assert styles.read_text(encoding="utf-8") == '{"not": "a csv"}\n'
    assert (theirs / "notes.txt").read_text(encoding="utf-8") == "mine"


# -- HTTP ---------------------------------------------------------------------------------------


@pytest.fixture()
def http(tmp_path: Path, warm_cache: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path / "data", cache_dir=warm_cache)
    components = Components(settings)
    give_taste(components, tmp_path / "images")
    alice = {"Authorization": f"Bearer {components.accounts.issue_token('alice')}"}
    bob = {"Authorization": f"Bearer {components.accounts.issue_token('bob')}"}
    with TestClient(create_app(settings)) as client:
        yield client, {"alice": alice, "bob": bob}  # type: ignore[misc]


def test_http_downloads_each_format(http) -> None:
    client, auth = http
    url = "/v1/preferences/presets"
    styles = client.get(f"{url}/a1111-styles", headers=auth["alice"])
    assert styles.status_code == 200, styles.text
    assert styles.headers["content-type"].startswith("text/csv")
    assert 'filename="styles.csv"' in styles.headers["content-disposition"]
    (row,) = csv.DictReader(io.StringIO(styles.content.decode("utf-8-sig")))
    assert row["name"] == "tastemaker-alice" and "(warm golden light:1.18)" in row["prompt"]

    invoke = client.get(f"{url}/invoke", headers=auth["alice"])
    assert invoke.headers["content-type"] == "application/json"
    assert invoke.json()[0]["negative_prompt"] == "(lens flare)1.16"

    bundle = client.get(f"{url}/bundle", headers=auth["alice"])
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
    assert 'filename="tastemaker-alice.zip"' in bundle.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert "embeddings/tastemaker-alice.safetensors" in names and "README.md" in names
    assert "references/02-gen-abc.png" in names

    document = client.get("/v1/preferences/export", headers=auth["alice"]).json()
    assert document["schema"] == "tastemaker.profile"  # the profile document is unchanged


def test_http_bad_format_or_empty_profile_is_a_4xx(http) -> None:
    client, auth = http
    url = "/v1/preferences/presets"
    bad = client.get(f"{url}/midjourney", headers=auth["alice"])
    assert bad.status_code == 422 and "format" in bad.json()["detail"]
    empty = client.get(f"{url}/fooocus", headers=auth["bob"])
    assert empty.status_code == 422
    assert "no liked or disliked attributes" in empty.json()["detail"]
    assert client.get(f"{url}/bundle").status_code == 401
