"""The built-in offline gallery: 24 small images drawn by code with PIL, on first use.

No image blobs are committed; ``ensure_builtin_gallery(cache_dir)`` renders the pictures into
``cache_dir`` and writes the manifest. They are abstract pictures, deliberately varied in palette,
light, composition, texture and style, and every description says plainly what is drawn.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from agent.extraction import ImageTag
from agent.gallery import (
    MANIFEST,
    Gallery,
    GalleryError,
    GalleryImage,
    GalleryManifest,
    load_gallery,
    save_image,
    write_manifest,
)
from preference_store.models import Category

SIZE = 256
BUILTIN_NAME = "tastemaker built-in (procedural) v1"
RGB = tuple[int, int, int]


def _hex(value: str) -> RGB:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _gradient(top: str, bottom: str) -> Image.Image:
    a, b = _hex(top), _hex(bottom)
    image = Image.new("RGB", (SIZE, SIZE))
    draw = ImageDraw.Draw(image)
    for y in range(SIZE):
        t = y / (SIZE - 1)
        color = tuple(round(a[i] + (b[i] - a[i]) * t) for i in range(3))
        draw.line([(0, y), (SIZE, y)], fill=color)
    return image


def _sunset(p: list[str], rng: random.Random) -> Image.Image:
    image = _gradient(p[0], p[1])
    draw = ImageDraw.Draw(image)
    draw.ellipse([88, 120, 168, 200], fill=_hex(p[2]))
    draw.polygon([(0, 190), (70, 130), (140, 185), (200, 140), (256, 180), (256, 256), (0, 256)],
                 fill=_hex(p[3]))  # fmt: skip
    return image


def _stripes(p: list[str], rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _hex(p[0]))
    draw = ImageDraw.Draw(image)
    for i, x in enumerate(range(-SIZE, SIZE * 2, 24)):
        draw.polygon([(x, 0), (x + 12, 0), (x + 12 - SIZE, SIZE), (x - SIZE, SIZE)],
                     fill=_hex(p[1 + i % (len(p) - 1)]))  # fmt: skip
    return image


def _grid(p: list[str], rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _hex(p[0]))
    draw = ImageDraw.Draw(image)
    for x in range(0, SIZE, 32):
        for y in range(0, SIZE, 32):
            draw.rectangle([x + 3, y + 3, x + 29, y + 29], fill=_hex(rng.choice(p[1:])))
    return image


def _scatter(p: list[str], rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _hex(p[0]))
    draw = ImageDraw.Draw(image)
    for _ in range(160):
        x, y, r = rng.randrange(SIZE), rng.randrange(SIZE), rng.randrange(4, 22)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_hex(rng.choice(p[1:])))
    return image


def _single(p: list[str], rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _hex(p[0]))
    ImageDraw.Draw(image).ellipse([98, 98, 158, 158], fill=_hex(p[1]))
    return image


def _noise(p: list[str], rng: random.Random) -> Image.Image:
    image = _gradient(p[0], p[1])
    pixels = image.load()
    assert pixels is not None
    for x in range(SIZE):
        for y in range(SIZE):
            r, g, b = pixels[x, y]  # type: ignore[misc]
            n = rng.randint(-40, 40)
            pixels[x, y] = tuple(max(0, min(255, v + n)) for v in (r, g, b))
    return image


def _concentric(p: list[str], rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _hex(p[0]))
    draw = ImageDraw.Draw(image)
    for i, r in enumerate(range(180, 0, -14)):
        draw.ellipse([128 - r, 128 - r, 128 + r, 128 + r], fill=_hex(p[1 + i % (len(p) - 1)]))
    return image


def _waves(p: list[str], rng: random.Random) -> Image.Image:
    image = _gradient(p[0], p[1])
    draw = ImageDraw.Draw(image)
    for row in range(6):
        points = [(x, 60 + row * 32 + 14 * math.sin(x / 22 + row)) for x in range(0, SIZE + 8, 8)]
        draw.line(points, fill=_hex(p[2 + row % (len(p) - 2)]), width=6)
    return image


def _blobs(p: list[str], rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _hex(p[0]))
    draw = ImageDraw.Draw(image)
    for _ in range(7):
        x, y, r = rng.randrange(SIZE), rng.randrange(SIZE), rng.randrange(40, 90)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_hex(rng.choice(p[1:])))
    return image.filter(ImageFilter.GaussianBlur(18))


def _spotlight(p: list[str], rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _hex(p[0]))
    draw = ImageDraw.Draw(image)
    draw.ellipse([60, 50, 200, 190], fill=_hex(p[1]))
    draw.rectangle([100, 120, 160, 210], fill=_hex(p[2]))
    return image.filter(ImageFilter.GaussianBlur(6))


def _mosaic(p: list[str], rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (16, 16))
    for x in range(16):
        for y in range(16):
            image.putpixel((x, y), _hex(rng.choice(p)))
    return image.resize((SIZE, SIZE), Image.Resampling.NEAREST)


def _horizon(p: list[str], rng: random.Random) -> Image.Image:
    image = _gradient(p[0], p[1])
    ImageDraw.Draw(image).rectangle([0, 200, SIZE, SIZE], fill=_hex(p[2]))
    return image


def _lines(p: list[str], rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _hex(p[0]))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        draw.line(
            [(rng.randrange(SIZE), rng.randrange(SIZE)) for _ in range(2)],
            fill=_hex(rng.choice(p[1:])),
            width=rng.choice([1, 2, 3]),
        )
    return image


def _perspective(p: list[str], rng: random.Random) -> Image.Image:
    image = _gradient(p[0], p[1])
    draw = ImageDraw.Draw(image)
    for x in range(-SIZE, SIZE * 2, 32):
        draw.line([(128, 100), (x, SIZE)], fill=_hex(p[2]), width=2)
    for i in range(1, 8):
        y = 100 + (SIZE - 100) * (i / 8) ** 2
        draw.line([(0, y), (SIZE, y)], fill=_hex(p[2]), width=2)
    return image


Painter = Callable[[list[str], random.Random], Image.Image]


@dataclass(frozen=True)
class _Spec:
    id: str
    painter: Painter
    palette: tuple[str, ...]
    description: str
    tags: tuple[tuple[str, Category], ...]


C = Category
# fmt: off
_SPECS: tuple[_Spec, ...] = (
    _Spec("sunset-hills", _sunset, ("#ff7e5f", "#feb47b", "#fff3b0", "#5b3a6b"),
          "a flat graphic sunset: a pale sun over purple hills, orange-to-peach sky gradient",
          (("warm orange gradient", C.COLOR), ("golden hour glow", C.LIGHTING),
           ("flat graphic style", C.STYLE), ("calm", C.MOOD))),
    _Spec("teal-gold-stripes", _stripes, ("#0f4c5c", "#e0a458", "#1b998b"),
          "diagonal stripes of teal and gold on a deep teal ground, art-deco-like",
          (("teal and gold palette", C.COLOR), ("diagonal stripes", C.COMPOSITION),
           ("art deco", C.STYLE), ("repetition", C.COMPOSITION))),
    _Spec("pastel-grid", _grid, ("#fdfcf7", "#ffd6e0", "#c1e7e3", "#fff1b6", "#dcd3ff"),
          "an orderly grid of pastel squares on off-white",
          (("pastel colors", C.COLOR), ("tidy grid", C.COMPOSITION), ("minimalist", C.STYLE),
           ("cheerful", C.MOOD))),
    _Spec("busy-confetti", _scatter, ("#111111", "#ff006e", "#fb5607", "#ffbe0b", "#3a86ff"),
          "a crowded scatter of bright neon circles on black",
          (("neon colors", C.COLOR), ("cluttered composition", C.COMPOSITION),
           ("energetic", C.MOOD), ("high contrast", C.LIGHTING))),
    _Spec("lone-circle", _single, ("#f4f1ea", "#c44536"),
          "one small red circle centered on a plain cream field",
          (("negative space", C.COMPOSITION), ("minimalism", C.STYLE),
           ("muted cream and red", C.COLOR),
           ("quiet", C.MOOD))),
    _Spec("grainy-dusk", _noise, ("#2b2d42", "#8d99ae"),
          "a dark blue-grey gradient covered in heavy film-like grain",
          (("film grain", C.TEXTURE), ("desaturated blue-grey", C.COLOR), ("moody", C.MOOD),
           ("dim light", C.LIGHTING))),
    _Spec("target-rings", _concentric, ("#000000", "#e63946", "#f1faee", "#1d3557"),
          "concentric rings in red, white and navy, like a target",
          (("concentric circles", C.COMPOSITION), ("bold primary colors", C.COLOR),
           ("pop art", C.STYLE), ("symmetry", C.COMPOSITION))),
    _Spec("ocean-waves", _waves, ("#03045e", "#0077b6", "#90e0ef", "#caf0f8"),
          "rows of wavy light-blue lines over a deep blue gradient",
          (("cool blues", C.COLOR), ("flowing lines", C.COMPOSITION), ("serene", C.MOOD),
           ("rhythm", C.COMPOSITION))),
    _Spec("dreamy-blobs", _blobs, ("#ffe5ec", "#ffc2d1", "#b8c0ff", "#bde0fe"),
          "soft, heavily blurred pink and lavender blobs",
          (("soft pastel pinks", C.COLOR), ("soft focus", C.DETAIL), ("dreamy", C.MOOD),
           ("smooth texture", C.TEXTURE))),
    _Spec("spotlit-figure", _spotlight, ("#0b0b0b", "#f2d0a4", "#5c3d2e"),
          "a glowing pale oval and a brown block lit against near-black, like a spotlight",
          (("chiaroscuro lighting", C.LIGHTING), ("dark background", C.COMPOSITION),
           ("dramatic", C.MOOD), ("warm browns", C.COLOR))),
    _Spec("pixel-mosaic", _mosaic, ("#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"),
          "a 16 by 16 mosaic of chunky pixels in teal, sand and burnt orange",
          (("pixel art", C.STYLE), ("earthy teal and orange", C.COLOR),
           ("blocky texture", C.TEXTURE),
           ("low detail", C.DETAIL))),
    _Spec("minimal-horizon", _horizon, ("#cfe8ef", "#f7f7f2", "#3d405b"),
          "a pale sky fading to white over a flat dark ground: a bare horizon",
          (("low horizon", C.COMPOSITION), ("empty space", C.COMPOSITION),
           ("muted palette", C.COLOR),
           ("lonely", C.MOOD))),
    _Spec("scribble-lines", _lines, ("#fafafa", "#222222", "#555555", "#d62828"),
          "thin black and red lines crossing at random on white, like scribbles",
          (("chaotic lines", C.COMPOSITION), ("sketchy", C.MEDIUM),
           ("black and white with red", C.COLOR),
           ("messy", C.DETAIL))),
    _Spec("vanishing-floor", _perspective, ("#1a1a2e", "#e94560", "#f5f5f5"),
          "white lines converging to a vanishing point over a navy-to-red gradient",
          (("one-point perspective", C.PERSPECTIVE), ("synthwave", C.STYLE),
           ("navy and hot pink", C.COLOR), ("depth", C.COMPOSITION))),
    _Spec("forest-mist", _blobs, ("#dfe7dc", "#7d9d7a", "#a3b18a", "#588157"),
          "blurred patches of muted green on a pale grey-green ground, like fog in a forest",
          (("muted greens", C.COLOR), ("misty atmosphere", C.MOOD),
           ("soft diffuse light", C.LIGHTING),
           ("blurry", C.DETAIL))),
    _Spec("desert-noon", _sunset, ("#fefae0", "#faedcd", "#ffffff", "#d4a373"),
          "a white sun over flat sand-colored dunes under a pale sky",
          (("bright daylight", C.LIGHTING), ("sandy beige palette", C.COLOR),
           ("simple shapes", C.DETAIL),
           ("wide view", C.PERSPECTIVE))),
    _Spec("neon-grid", _grid, ("#0d0221", "#ff2a6d", "#05d9e8", "#d1f7ff", "#650d89"),
          "a grid of magenta, cyan and purple squares on near-black",
          (("magenta and cyan neon", C.COLOR), ("cyberpunk", C.STYLE), ("neon glow", C.LIGHTING),
           ("grid", C.COMPOSITION))),
    _Spec("earth-stripes", _stripes, ("#6b4226", "#a98467", "#adc178", "#dde5b6"),
          "diagonal stripes in olive, tan and brown",
          (("earth tones", C.COLOR), ("diagonals", C.COMPOSITION), ("organic", C.TEXTURE),
           ("rustic", C.MOOD))),
    _Spec("monochrome-rings", _concentric, ("#ffffff", "#000000", "#ffffff"),
          "black and white concentric rings: a hypnotic op-art pattern",
          (("black and white", C.COLOR), ("op art", C.STYLE), ("high contrast", C.LIGHTING),
           ("hypnotic", C.MOOD))),
    _Spec("storm-grain", _noise, ("#1b1b1b", "#4a4e69"),
          "a near-black to slate gradient with coarse noise, like a stormy night photo",
          (("gritty texture", C.TEXTURE), ("dark", C.LIGHTING), ("ominous", C.MOOD),
           ("monochrome slate", C.COLOR))),
    _Spec("candy-confetti", _scatter, ("#fff0f3", "#ff8fab", "#ffb3c6", "#a0c4ff", "#caffbf"),
          "a dense sprinkle of candy-colored dots on pale pink",
          (("candy colors", C.COLOR), ("busy pattern", C.COMPOSITION), ("playful", C.MOOD),
           ("whimsical", C.STYLE))),
    _Spec("golden-sea", _waves, ("#f9c74f", "#f94144", "#ffffff", "#f3722c"),
          "white and orange wavy lines over a yellow-to-red gradient",
          (("warm golden light", C.LIGHTING), ("red and orange palette", C.COLOR),
           ("flowing lines", C.COMPOSITION), ("energetic", C.MOOD))),
    _Spec("night-horizon", _horizon, ("#000814", "#001d3d", "#ffc300"),
          "a dark navy sky over a thin band of bright yellow ground",
          (("night", C.LIGHTING), ("navy and yellow", C.COLOR), ("low horizon", C.COMPOSITION),
           ("mysterious", C.MOOD))),
    _Spec("aerial-tiles", _mosaic, ("#e9edc9", "#ccd5ae", "#a3b18a", "#588157", "#344e41"),
          "a patchwork of green squares, like farmland seen from above",
          (("aerial view", C.PERSPECTIVE), ("patchwork of greens", C.COLOR),
           ("geometric pattern", C.STYLE),
           ("flat texture", C.TEXTURE))),
)
# fmt: on


def builtin_manifest() -> GalleryManifest:
    return GalleryManifest(
        name=BUILTIN_NAME,
        images=[
            GalleryImage(
                id=spec.id,
                file=f"{spec.id}.png",
                description=spec.description,
                tags=[ImageTag(text=t, category=c) for t, c in spec.tags],
            )
            for spec in _SPECS
        ],
    )


def ensure_builtin_gallery(cache_dir: Path) -> Gallery:
    """The built-in gallery, rendered into ``cache_dir`` the first time (deterministically)."""
    manifest = builtin_manifest()
    if (cache_dir / MANIFEST).is_file():
        try:
            gallery = load_gallery(cache_dir)
            if gallery.manifest == manifest:
                return gallery
        except GalleryError:
            pass  # a half-written or older cache: render again
    cache_dir.mkdir(parents=True, exist_ok=True)
    for number, spec in enumerate(_SPECS):
        image = spec.painter(list(spec.palette), random.Random(number))
        save_image(image, cache_dir / f"{spec.id}.png")
    write_manifest(cache_dir, manifest)
    return load_gallery(cache_dir)
