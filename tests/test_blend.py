"""Blending profiles (issue 26): two profiles with opposite attributes give different plans; a
blend's plan weights them and says how it decided a feature liked in one and disliked in the
other; embeddings are averaged and style tokens injected at their weights; bad weights are one
line of error (the 422s are in tests/test_profiles.py).

The mixing itself on the pure functions and the tiny pipelines' real text encoders; end to end
through the real CLI, store and tiny pipeline.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from api.wiring.services import Components
from generation.blend import blend_profiles, blend_tokens
from generation.blend_parts import blend_weights, parse_blend
from generation.errors import InvalidGenerationRequest
from generation.generator import PersonalizedGenerator
from generation.plan import place_style
from generation.settings import GenerationSettings
from generation.style_inject import STYLE_MARKER
from preference_store.models import (
    AttributeDraft,
    Category,
    ImageReaction,
    Polarity,
    Profile,
    VisualAttribute,
)
from tests.cli_runner import run_cli
from tests.test_style_generation import token

runner = CliRunner()
FAST = ["--steps", "2", "--width", "64", "--height", "64", "--seed", "5", "--model", "tiny"]


def profile(owner: str, rows: list[tuple[str, Polarity, float]], **extra: object) -> Profile:
    attributes = [
        VisualAttribute(user_id=owner, text=t, polarity=p, category=Category.COLOR, strength=s)
        for t, p, s in rows
    ]
    return Profile(user_id=owner, version=1, attributes=attributes, **extra)  # type: ignore[arg-type]


def by_text(blended: Profile) -> dict[str, tuple[str, float]]:
    return {a.text: (a.polarity.value, a.strength) for a in blended.attributes}


def test_weights_are_normalised_and_bad_ones_refused() -> None:
    assert blend_weights(parse_blend("default:7,zines:3")) == {"default": 0.7, "zines": 0.3}
    assert blend_weights({"default": 1.0, "zines": 0.0}) == {"default": 1.0}
    for text, said in (
        ("default:0,zines:0", "all zero"),
        ("default:-0.2,zines:1", "0 or more"),
        ("default:0.5,zines", "NAME:WEIGHT"),
        ("default:x", "NAME:WEIGHT"),
        ("default:1,default:2", "twice"),
        ("default:inf", "0 or more"),
    ):
        with pytest.raises(InvalidGenerationRequest, match=said):
            blend_weights(parse_blend(text))


def test_a_feature_liked_in_one_and_disliked_in_the_other_is_decided_by_weight() -> None:
    default = profile(
        "ada", [("neon colors", Polarity.LIKE, 0.8), ("film grain", Polarity.LIKE, 0.5)]
    )
    zines = profile(
        "~" + "a" * 32,
        [("neon colours", Polarity.DISLIKE, 0.9), ("halftone dots", Polarity.LIKE, 0.7)],
    )
    mostly_default = blend_profiles("ada", [("default", default, 0.7), ("zines", zines, 0.3)])
    seen = by_text(mostly_default.profile)
    assert seen["neon colors"] == ("like", pytest.approx(0.7 * 0.8 - 0.3 * 0.9))
    assert seen["film grain"] == ("like", pytest.approx(0.35))
    assert seen["halftone dots"] == ("like", pytest.approx(0.21))
    (note,) = mostly_default.notes
    assert "liked in default (0.70 × 0.80)" in note and "disliked in zines (0.30 × 0.90)" in note
    assert note.endswith("liked at strength 0.29 by the blend's weights")

    mostly_zines = blend_profiles("ada", [("default", default, 0.2), ("zines", zines, 0.8)])
    assert by_text(mostly_zines.profile)["neon colours"] == (  # the heavier profile's words
        "dislike",
        pytest.approx(0.8 * 0.9 - 0.2 * 0.8),
    )
    even = blend_profiles("ada", [("default", default, 0.9 / 1.7), ("zines", zines, 0.8 / 1.7)])
    assert not {"neon colors", "neon colours"} & set(by_text(even.profile))
    assert "cancel out" in even.notes[0]
    # A blend of one profile is that profile.
    assert blend_profiles("ada", [("default", default, 1.0)]).profile is default


def test_images_and_aesthetic_embeddings_are_weighted() -> None:
    liked = [ImageReaction(image_id="red", weight=1.0)]
    default = profile("ada", [], liked_images=liked, aesthetic_embeddings={"clip": [1.0, 0.0]})
    zines = profile(
        "~" + "b" * 32,
        [],
        liked_images=[ImageReaction(image_id="blue", weight=0.5)],
        aesthetic_embeddings={"clip": [0.0, 1.0], "other": [3.0, 4.0]},
    )
    blended = blend_profiles("ada", [("default", default, 0.75), ("zines", zines, 0.25)]).profile
    weights = {r.image_id: r.weight for r in blended.liked_images}
    assert weights == {"red": 0.75, "blue": 0.125}
    x, y = blended.aesthetic_embeddings["clip"]
    assert math.hypot(x, y) == pytest.approx(1.0) and x / y == pytest.approx(3.0)
    assert blended.aesthetic_embeddings["other"] == pytest.approx([0.6, 0.8])


def test_style_tokens_are_injected_at_their_weights(tiny_pipeline) -> None:
    generator = PersonalizedGenerator(tiny_pipeline, model_name="tiny")
    settings = GenerationSettings(steps=2, width=64, height=64, aesthetic_steps=0)
    zine, default = token(tiny_pipeline, 1), token(tiny_pipeline, 2)
    plan = place_style(
        generator.plan("a lighthouse", profile("ada", [])),
        token="mix",
        negative_token=None,
        marker=STYLE_MARKER,
    )
    text = generator.text
    one = text.encode_with_style(plan.style_prompt, zine.vectors).hidden
    two = text.encode_with_style(plan.style_prompt, default.vectors).hidden
    plain = text.encode(plan.prompt).hidden

    both = blend_tokens([(zine, 0.7), (default, 0.3)])
    assert both is not None and both.digest() != zine.digest()
    styled = generator.encode(plan, settings, None, style=both).styled
    assert styled is not None
    torch.testing.assert_close(styled.hidden, 0.7 * one + 0.3 * two)

    alone = blend_tokens([(zine, 0.3), (None, 0.7)])  # only one profile has a token
    styled = generator.encode(plan, settings, None, style=alone).styled
    assert styled is not None
    torch.testing.assert_close(styled.hidden, 0.3 * one + 0.7 * plain)
    assert blend_tokens([(zine, 1.0)]) is zine


@pytest.fixture()
def ada(data_dir: Path, tmp_path: Path) -> Components:
    """ada's default profile likes neon colours; her zines profile dislikes them."""
    components = Components()
    components.accounts.ensure("ada")
    zines = components.profiles.create("ada", "zines").owner
    components.profiles.create("ada", "empty")
    for owner, polarity, extra, colour in (
        ("ada", Polarity.LIKE, "film grain", (250, 20, 200)),
        (zines, Polarity.DISLIKE, "halftone dots", (30, 30, 30)),
    ):
        drafts = [
            AttributeDraft(
                text="neon colors", category=Category.COLOR, polarity=polarity, strength=0.8
            ),
            AttributeDraft(text=extra, category=Category.TEXTURE, polarity=Polarity.LIKE),
        ]
        components.store.add(owner, drafts, reason="test")
        path = tmp_path / f"{owner}.png"
        Image.new("RGB", (64, 64), colour).save(path)
        components.store.set_images(owner, [ImageReaction(image_id=owner, path=str(path))], [])
    return components


def generate(tmp_path: Path, *args: str) -> dict:
    result = runner.invoke(
        app,
        [
            "generate",
            "--user",
            "ada",
            "--out",
            str(tmp_path / "out"),
            *FAST,
            "--json",
            *args,
            "a lighthouse",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


def test_profiles_with_opposite_attributes_give_different_plans_and_a_blend_weighs_them(
    ada: Components, tmp_path: Path
) -> None:
    default = generate(tmp_path)["plan"]
    zines = generate(tmp_path, "--profile", "zines")["plan"]
    assert (
        "neon colors" in default["positive_text"] and "neon colors" not in default["negative_text"]
    )
    assert "neon colors" in zines["negative_text"] and "neon colors" not in zines["positive_text"]
    assert "film grain" in default["positive_text"] and "film grain" not in zines["positive_text"]

    blended = generate(tmp_path, "--blend", "default:0.7,zines:0.3")
    plan = blended["plan"]
    assert plan["blend"] == {"default": pytest.approx(0.7), "zines": pytest.approx(0.3)}
    decided = {d["text"]: d for d in plan["decisions"]}
    assert decided["neon colors"]["polarity"] == "like"
    assert decided["neon colors"]["strength"] == pytest.approx(0.32)  # 0.7·0.8 − 0.3·0.8
    assert decided["film grain"]["strength"] == pytest.approx(0.49)  # 0.7 × 0.7
    assert decided["halftone dots"]["strength"] == pytest.approx(0.21)
    assert any(
        "neon colors" in note and "liked at strength 0.32" in note for note in plan["blend_notes"]
    )
    assert blended["aesthetic"]["applied"] is True  # the two profiles' embeddings, averaged

    flipped = generate(tmp_path, "--blend", "default:1,zines:4")["plan"]
    assert "neon colors" in flipped["negative_text"]
    # One profile at full weight is that profile's plan.
    only = generate(tmp_path, "--blend", "zines:1")["plan"]
    assert only["positive_text"] == zines["positive_text"]
    assert only["negative_text"] == zines["negative_text"]


def test_bad_blends_are_one_line(ada: Components, capsys: pytest.CaptureFixture[str]) -> None:
    for blend, said in (
        ("default:0,zines:0", "all zero"),
        ("default:-1,zines:1", "0 or more"),
        ("default:1,nope:1", "profile 'nope' does not exist (`tastemaker profiles list ada`"),
    ):
        result = run_cli(capsys, "generate", "--user", "ada", *FAST, "--blend", blend, "a boat")
        assert result.code == 1, (blend, result)
        assert said in " ".join(result.stderr.split()), result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2  # one line (rich may wrap it)


def test_a_blended_png_is_made_again_as_the_same_blend(ada: Components, tmp_path: Path) -> None:
    """A blend pins no profile version: its PNG records the profiles and weights instead, and
    --from-png blends them again (saying that each is used as it is now)."""
    import numpy as np

    from generation.png import read_png_metadata

    made = generate(tmp_path, "--blend", "default:0.7,zines:0.3")
    (path,) = made["files"]
    assert json.loads(read_png_metadata(Path(path))["tastemaker:blend"]) == {
        "default": pytest.approx(0.7),
        "zines": pytest.approx(0.3),
    }
    result = runner.invoke(
        app, ["generate", "--user", "ada", "--out", str(tmp_path / "again"), "--json",
              "--from-png", path],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "each profile is used as it is now" in result.output
    again = json.loads(result.stdout[result.stdout.index("{") :])
    assert again["plan"]["blend"] == made["plan"]["blend"]
    (again_path,) = again["files"]
    pixels = [np.asarray(Image.open(p).convert("RGB")) for p in (path, again_path)]
    assert np.array_equal(*pixels)
