"""Presets for other tools, checked against the formats those tools read.

The formats, as the tools' own sources read them:

- **A1111 ``styles.csv``** (stable-diffusion-webui ``modules/styles.py``): opened with
  ``encoding="utf-8-sig"`` (a BOM is allowed) and read by ``csv.DictReader(file,
  skipinitialspace=True)``; each row's ``name`` keys the style, ``prompt`` is its prompt (old
  files: ``text``), ``negative_prompt`` optional. A1111 saves with ``csv.DictWriter`` and the
  header ``name,prompt,negative_prompt`` (``\\r\\n`` line ends). A style prompt with
  ``{prompt}`` has the person's prompt put there; without it the two are joined by ", ".
  Weights: ``(text:1.2)``, ``\\(`` for a literal bracket.
- **Fooocus** (``modules/sdxl_styles.py``): every ``*.json`` in ``sdxl_styles/`` is
  ``json.load``-ed as a list of objects with ``name``, ``prompt`` and ``negative_prompt``
  (older releases index all three, newer default the prompts to ""); the name shown is
  ``normalize_key(name)`` (``-`` → space, each word capitalised); ``apply_style`` is
  ``prompt.replace('{prompt}', positive)``, so a style without ``{prompt}`` drops the person's
  prompt. Fooocus reads A1111's weight syntax.
- **InvokeAI** (``style_preset_records_common.py``, ``parse_presets_from_file``): a JSON import
  is a list of ``StylePresetImportRow``: ``name`` (``min_length=1``), ``positive_prompt`` (or
  ``prompt``) and ``negative_prompt``, strings defaulting to "", ``extra="forbid"``,
  whitespace stripped. Its own presets put ``{prompt}`` in ``positive_prompt``. Invoke's prompts
  are compel's syntax: ``(text)1.2``.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from compel.prompt_parser import PromptParser
from pydantic import BaseModel, ConfigDict, Field

from generation.generator import PersonalizedGenerator
from generation.presets import (
    InvalidPreset,
    Preset,
    a1111_styles,
    fooocus_json,
    invoke_json,
    make_preset,
    render,
)
from generation.prompt_syntax import parse
from preference_store.models import Category, Polarity, Profile, VisualAttribute
from tests.doubles.tiny_models import build_tiny_sd

# -- the tools' readers, written down from their sources (see the module docstring) -----------


def a1111_read(data: bytes) -> dict[str, tuple[str, str]]:
    """What A1111's StyleDatabase holds after reading ``data``."""
    file = io.StringIO(data.decode("utf-8-sig"), newline="")
    styles = {}
    for row in csv.DictReader(file, skipinitialspace=True):
        prompt = row["prompt"] if "prompt" in row else row["text"]
        styles[row["name"]] = (prompt, row.get("negative_prompt", ""))
    return styles


def a1111_apply(style_prompt: str, prompt: str) -> str:
    if "{prompt}" in style_prompt:
        return style_prompt.replace("{prompt}", prompt)
    return ", ".join(p for p in (prompt.strip(), style_prompt.strip()) if p)


def fooocus_read(data: bytes) -> dict[str, tuple[str, str]]:
    def normalize_key(k: str) -> str:
        words = k.replace("-", " ").split(" ")
        return " ".join(w[:1].upper() + w[1:].lower() for w in words)

    return {
        normalize_key(e["name"]): (e["prompt"], e["negative_prompt"])  # the older, strict read
        for e in json.loads(data.decode("utf-8"))
    }


class InvokeImportRow(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1)
    positive_prompt: str = ""
    negative_prompt: str = ""


def invoke_read(data: bytes) -> list[InvokeImportRow]:
    document = json.loads(data.decode("utf-8"))
    assert isinstance(document, list)
    return [InvokeImportRow.model_validate(row) for row in document]


def compel_weights(text: str) -> list[tuple[str, float]]:
    """compel's reading of a prompt: (text, weight) per fragment, commas trimmed."""
    (prompt,) = PromptParser().parse_conjunction(text).prompts
    return [(f.text.strip(" ,"), round(f.weight, 4)) for f in prompt.children if f.text.strip(" ,")]


def a1111_weights(text: str) -> list[tuple[str, float]]:
    (segment,) = parse(text)
    return [(t.strip(" ,"), round(w, 4)) for t, w in segment if t.strip(" ,")]


# -- a profile ---------------------------------------------------------------------------------


def attribute(text: str, category: Category, polarity: str, strength: float) -> VisualAttribute:
    return VisualAttribute(
        user_id="alice",
        text=text,
        category=category,
        polarity=Polarity(polarity),
        strength=strength,
    )


@pytest.fixture()
def profile() -> Profile:
    return Profile(
        user_id="alice",
        version=3,
        attributes=[
            attribute("teal palette", Category.COLOR, "like", 0.5),
            attribute("warm golden light", Category.LIGHTING, "like", 0.9),
            attribute("visible brush strokes", Category.TEXTURE, "like", 0.0001),
            attribute("cats", Category.SUBJECT, "like", 1.0),  # subject: never in a style
            attribute("lens flare", Category.LIGHTING, "dislike", 0.8),
            attribute("cluttered composition", Category.COMPOSITION, "dislike", 0.3),
        ],
    )


LIKED = [("warm golden light", 1.18), ("teal palette", 1.1), ("visible brush strokes", 1.0)]
DISLIKED = [("lens flare", 1.16), ("cluttered composition", 1.06)]


def test_preset_words_are_the_plans_words(profile: Profile) -> None:
    """What tastemaker itself adds for a prompt that bears on no attribute, with the tiny
    pipeline's tokenizer: the same attributes, order and weights."""
    plan = PersonalizedGenerator(build_tiny_sd(), model_name="tiny").plan("a harbour", profile)
    preset = make_preset(profile)
    assert preset.prompt() == "{prompt}, " + plan.positive_weighted
    assert preset.negative_prompt() == plan.negative_weighted
    assert list(preset.liked) == LIKED and list(preset.disliked) == DISLIKED


def test_a1111_styles_csv_is_what_a1111_reads(profile: Profile) -> None:
    data = a1111_styles(make_preset(profile))
    assert data.splitlines()[0] == b"name,prompt,negative_prompt"
    assert data.endswith(b"\r\n")
    styles = a1111_read(data)
    prompt, negative = styles["tastemaker-alice"]
    assert a1111_weights(prompt.replace("{prompt}", "")) == LIKED
    assert a1111_weights(negative) == DISLIKED
    applied = a1111_apply(prompt, "a harbour at dusk")
    assert applied.startswith("a harbour at dusk, (warm golden light:1.18), (teal palette:1.1)")


def test_an_existing_styles_csv_keeps_every_other_row_byte_for_byte(profile: Profile) -> None:
    preset = make_preset(profile)
    existing = (
        "\ufeffname,prompt,negative_prompt\r\n"
        'Cinematic,"cinematic still {prompt}, film grain","cartoon, ""flat"""\r\n'
        'Multi,"line one\r\nline two",\r\n'
        "Plain,watercolor,photo"  # no newline at the end
    ).encode()
    once = a1111_styles(preset, existing)
    assert once.startswith(existing + b"\r\n")  # appended, nothing before it touched
    styles = a1111_read(once)
    assert list(styles) == ["Cinematic", "Multi", "Plain", "tastemaker-alice"]
    assert styles["Cinematic"] == ("cinematic still {prompt}, film grain", 'cartoon, "flat"')
    assert styles["Multi"] == ("line one\r\nline two", "")

    # the person changes their taste and exports again: only our row changes, in place
    weaker = profile.model_copy(update={"attributes": profile.attributes[1:]})
    twice = a1111_styles(make_preset(weaker), once + b"Later,x,y\r\n")
    styles = a1111_read(twice)
    assert list(styles) == ["Cinematic", "Multi", "Plain", "tastemaker-alice", "Later"]
    assert "teal palette" not in styles["tastemaker-alice"][0]
    before, after = twice.split(b"tastemaker-alice")[0], twice.split(b"\r\nLater")[1]
    assert before == existing + b"\r\n" and after == b",x,y\r\n"


def test_a_styles_file_with_extra_columns_or_lf_line_ends_keeps_them(profile: Profile) -> None:
    existing = b"name,prompt,negative_prompt,description\nA,a,b,c\n"
    data = a1111_styles(make_preset(profile), existing)
    assert data.startswith(existing) and data.endswith(b"\n") and b"\r" not in data
    row = list(csv.DictReader(io.StringIO(data.decode())))[-1]
    assert row["name"] == "tastemaker-alice" and row["description"] == ""


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8"),
        (b'[{"name": "x", "prompt": "y"}]', "not CSV"),
        (b"# my notes\nbuy film\n", "lacks name, prompt, negative_prompt"),
        (b"name,text\nold,style\n", "lacks prompt, negative_prompt"),
        (b'name,prompt,negative_prompt\nA,"unclosed\n', "not CSV"),
        (b"name,prompt,negative_prompt\nA,b\x00c,d\n", "not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_a_styles_csv_is_refused(
    profile: Profile, content: bytes, why: str
) -> None:
    with pytest.raises(InvalidPreset, match=why):
        a1111_styles(make_preset(profile), content)


def test_fooocus_json_is_what_fooocus_reads(profile: Profile) -> None:
    styles = fooocus_read(fooocus_json(make_preset(profile)).encode())
    prompt, negative = styles["Tastemaker Alice"]
    assert "{prompt}" in prompt  # without it Fooocus would drop the person's prompt
    assert a1111_weights(prompt.replace("{prompt}", "")) == LIKED
    assert a1111_weights(negative) == DISLIKED


def test_invoke_preset_is_what_invoke_imports_with_compel_weights(profile: Profile) -> None:
    (row,) = invoke_read(invoke_json(make_preset(profile)).encode())
    assert row.name == "tastemaker-alice"
    assert row.positive_prompt.startswith("{prompt}, ")
    assert compel_weights(row.positive_prompt.replace("{prompt}", "")) == LIKED
    assert compel_weights(row.negative_prompt) == DISLIKED
    assert ":1." not in row.positive_prompt  # A1111's syntax would be literal text in Invoke


def test_brackets_in_an_attribute_stay_words_in_both_syntaxes() -> None:
    preset = Preset("tastemaker-x", (("ink (sumi) wash", 1.2),), ())
    assert a1111_weights(preset.prompt().replace("{prompt}", "")) == [("ink (sumi) wash", 1.2)]
    invoke = preset.prompt("compel").replace("{prompt}", "")
    assert compel_weights(invoke) == [("ink (sumi) wash", 1.2)]


def test_an_empty_profile_or_an_unknown_format_is_refused(profile: Profile) -> None:
    with pytest.raises(InvalidPreset, match="no liked or disliked attributes"):
        make_preset(Profile(user_id="alice"))
    only_subject = Profile(user_id="alice", attributes=[profile.attributes[3]])
    with pytest.raises(InvalidPreset, match="no liked or disliked"):
        make_preset(only_subject)
    with pytest.raises(InvalidPreset, match="format must be one of"):
        render(make_preset(profile), "midjourney")
