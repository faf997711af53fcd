"""The curated vocabulary of visual attributes the offline extractor recognises.

Each term maps to the category it describes. Terms are lower case and singular or plural as
people write them; multi-word terms win over their parts (longest match). Words outside this
list fall back to MiniLM similarity against these terms (see ``agent.offline``).
"""

from __future__ import annotations

from preference_store.models import Category

# fmt: off
_TERMS: dict[Category, tuple[str, ...]] = {
    Category.COLOR: (
        "color", "colors", "colour", "colours", "palette", "palettes", "hue", "hues", "tone",
        "tones", "tint", "tints", "shade", "shades", "saturation", "saturated", "desaturated",
        "oversaturated", "vibrant", "vivid", "muted", "pastel", "pastels", "neon", "monochrome",
        "monochromatic", "black and white", "sepia", "grayscale", "greyscale", "warm", "cool",
        "earthy", "earth tones", "jewel tones", "teal", "turquoise", "cyan", "blue", "blues",
        "navy", "cobalt", "red", "reds", "crimson", "scarlet", "orange", "oranges", "amber",
        "yellow", "yellows", "gold", "golden", "green", "greens", "emerald", "olive", "mint",
        "purple", "purples", "violet", "lavender", "magenta", "pink", "pinks", "rose", "brown",
        "browns", "beige", "ochre", "rust", "black", "white", "grey", "gray", "silver", "cream",
        "complementary colors", "color scheme", "colour scheme", "color grading", "colorful",
        "colour grading", "colourful", "garish", "washed out", "washed-out", "faded",
        "bright colors",
        "primary colors", "gradient", "gradients", "tonal", "rainbow", "candy colors",
        "limited palette", "duotone", "peach", "coral", "salmon", "lilac", "ivory", "charcoal",
        "burgundy", "maroon", "sand", "copper", "bronze", "blue-grey", "blue-gray",
        "ultramarine", "vermilion", "indigo", "sepia tones",
    ),
    Category.LIGHTING: (
        "light", "lights", "lighting", "shadow", "shadows", "glow", "glowing", "backlit",
        "backlighting", "rim light", "golden hour", "golden light", "sunlight", "moonlight",
        "candlelight", "soft light", "hard light", "harsh light", "diffuse light", "dramatic light",
        "chiaroscuro", "contrast", "high contrast", "low contrast", "highlights", "exposure",
        "overexposed", "underexposed", "dark", "darkness", "dim", "bright", "brightness", "gloomy",
        "luminous", "radiant", "silhouette", "silhouettes", "volumetric light", "god rays",
        "light rays", "sunbeams", "sunset", "sunrise", "twilight", "night", "neon lights",
        "reflections", "reflection", "sparkle", "haze", "hazy", "fog", "foggy", "mist", "misty",
        "lens flare", "bloom", "spotlight", "ambient light", "natural light", "studio lighting",
        "low key", "high key", "shading", "illumination", "lit",
        "vignette", "vignetting", "catchlight", "catchlights", "window light", "bounce light",
        "flash", "glare", "light fall-off", "falloff", "blown-out", "blown out", "dappled",
        "dappled light",
    ),
    Category.COMPOSITION: (
        "composition", "compositions", "layout", "framing", "frame", "symmetry", "symmetrical",
        "asymmetry", "asymmetrical", "balance", "balanced", "unbalanced", "rule of thirds",
        "centered", "centred", "off-center", "negative space", "empty space", "whitespace",
        "clutter", "cluttered", "busy", "crowded", "chaotic", "messy", "sparse", "minimal",
        "clean", "focal point", "leading lines", "lines", "diagonal", "diagonals", "horizon",
        "foreground", "background", "backgrounds", "depth", "layering", "layers", "spacing",
        "arrangement", "cropping", "cropped", "tight crop", "grid", "pattern", "patterns",
        "repetition", "rhythm", "flow", "flowing lines", "curves", "curved lines", "shapes",
        "geometric shapes", "circles", "empty", "open space", "scale", "proportions",
        "placement", "overlapping", "overcrowded", "tidy", "order", "structure",
        "crop", "pose", "poses", "text placement", "edges", "proportion", "checkerboard",
        "checkered",
    ),
    Category.STYLE: (
        "style", "styles", "impressionism", "impressionist", "impressionistic", "expressionism",
        "expressionist", "surrealism", "surreal", "surrealist", "cubism", "cubist",
        "art nouveau", "art deco", "baroque", "renaissance", "rococo", "gothic", "minimalism",
        "minimalist", "maximalist", "pop art", "abstract", "abstraction", "realism",
        "realistic", "photorealistic", "photorealism", "hyperrealistic", "anime", "manga",
        "cartoon", "cartoonish", "cartoony", "comic", "comic book", "ukiyo-e", "cyberpunk",
        "steampunk", "vaporwave", "synthwave", "retro", "vintage", "futuristic", "modern",
        "classical", "folk art", "naive", "pixel art", "low poly", "flat design", "bauhaus",
        "stylized", "stylised", "fantasy", "sci-fi", "noir", "film noir", "psychedelic",
        "whimsical", "kitsch", "brutalist", "ornamental", "art", "illustrative", "painterly",
        "graphic", "geometric", "cinematic", "editorial", "storybook", "pointillism",
        "typography", "lettering", "font", "fonts", "letterforms", "calligraphy", "line art",
        "cel shading", "character design", "sprite", "sprites", "chibi", "art style",
        "pointillist", "fauvism", "romanticism", "digital art", "concept art", "lowbrow",
    ),
    Category.MEDIUM: (
        "medium", "oil painting", "oil", "oils", "watercolor", "watercolour", "watercolors",
        "acrylic", "acrylics", "gouache", "pastel drawing", "charcoal", "pencil",
        "graphite", "ink", "ink drawing", "pen and ink", "sketch", "sketchy", "sketches",
        "photograph", "photography", "film photography", "polaroid", "3d render",
        "render", "rendering", "cgi", "3d", "clay", "claymation", "sculpture", "collage",
        "woodcut", "linocut", "etching", "engraving", "screen print", "mosaic", "stained glass",
        "embroidery", "fresco", "tempera", "digital painting", "vector", "vector art",
        "crayon", "marker", "spray paint", "graffiti", "paper cut", "papercraft", "origami",
        "lithograph", "cyanotype", "mixed media",
        "glaze", "glazes", "ceramic", "ceramics", "pottery", "stitch", "stitches", "stitching",
        "thread", "carving", "retouching", "wash", "washes", "print", "printmaking",
    ),
    Category.TEXTURE: (
        "texture", "textures", "textured", "grain", "grainy", "film grain", "noise", "noisy",
        "smooth", "glossy", "matte", "rough", "gritty", "grit", "brushwork", "brushstrokes",
        "brush strokes", "strokes", "visible brushstrokes", "impasto", "canvas texture",
        "paper texture", "soft", "silky", "velvety", "plastic", "plasticky", "waxy", "metallic",
        "shiny", "crackled", "weathered", "worn", "distressed", "organic", "fluffy", "fuzzy",
        "crisp", "polished", "scratchy", "layered paint", "dry brush", "wet", "splatter",
        "drips", "halftone", "dithering", "tactile",
        "finish", "matte finish", "sheen", "speckled", "cracked", "lustre", "luster", "chrome",
    ),
    Category.MOOD: (
        "mood", "moods", "atmosphere", "atmospheric", "vibe", "vibes",
        "tone of the image", "calm", "calming", "serene", "peaceful", "tranquil", "cozy",
        "cosy", "warmth", "melancholy", "melancholic", "sad", "somber", "sombre", "moody",
        "eerie", "creepy", "spooky", "ominous", "menacing", "dark mood", "dreamy",
        "dreamlike", "ethereal", "mysterious", "mystery", "nostalgic", "nostalgia", "romantic",
        "joyful", "cheerful", "happy", "playful", "energetic", "dynamic", "lively", "chaotic mood",
        "tense", "tension", "dramatic", "drama", "epic", "grand", "intimate", "lonely",
        "loneliness", "isolation", "uplifting", "hopeful", "bleak", "depressing", "sterile",
        "cold", "clinical", "whimsy", "magical", "mystical", "quiet", "stillness", "energy",
        "emotion", "emotional", "aggressive", "violent", "cute", "innocent", "gritty mood",
        "soothing", "relaxing", "unsettling", "haunting", "moodiness",
    ),
    Category.DETAIL: (
        "detail", "details", "detailed", "intricate", "intricate details", "fine detail",
        "fine details", "ornate", "ornamentation", "simple", "simplicity", "simplified",
        "sharp", "sharpness", "sharp focus", "focus", "blurry", "blur", "blurred", "bokeh",
        "out of focus", "soft focus", "depth of field", "shallow depth of field", "crisp detail",
        "high detail", "low detail", "level of detail", "overdetailed", "busy details",
        "texture detail", "linework", "line work", "outlines", "clean lines", "precision",
        "precise", "loose", "looseness", "messy lines", "fussy", "elaborate", "decorative",
        "decoration", "resolution", "pixelated", "definition", "realism of detail",
        "line weight", "outline", "registration",
    ),
    Category.PERSPECTIVE: (
        "perspective", "angle", "angles", "camera angle", "viewpoint", "point of view",
        "low angle", "high angle", "bird's eye view", "birds eye view", "aerial view", "aerial",
        "top-down", "top down", "overhead", "eye level", "worm's eye view", "close-up",
        "closeup", "close up", "wide shot", "wide angle", "wide-angle", "fisheye",
        "panoramic", "panorama", "isometric", "one-point perspective", "vanishing point",
        "distance", "zoom", "zoomed in", "zoomed out", "macro", "telephoto", "portrait shot",
        "side view", "front view", "profile view", "dutch angle", "tilted", "flat perspective",
        "forced perspective", "depth perspective", "first person", "long shot", "medium shot",
    ),
    Category.SUBJECT: (
        "subject", "subject matter", "dog", "dogs", "cat", "cats", "animal", "animals",
        "bird", "birds", "horse", "horses", "fish", "person", "people", "man", "men",
        "woman", "women", "girl", "boy", "child", "children", "face", "faces", "portrait",
        "figure", "figures", "character", "characters", "tree", "trees", "forest", "flower",
        "flowers", "mountain", "mountains", "sea", "ocean", "beach", "lake", "river",
        "building", "buildings", "house", "houses", "city", "cities", "street", "car", "cars",
        "robot", "robots", "castle", "castles", "dragon", "dragons", "landscape", "landscapes",
        "still life", "fruit", "food", "boat", "boats", "sky", "clouds", "cloud", "moon",
        "sun", "stars", "space", "planet", "garden", "room", "interior", "village", "bridge",
        "train", "ship", "architecture", "skyline", "desert", "snow", "rain", "waves",
        "temple", "church", "road", "field", "fields", "meadow", "hills", "island", "jungle",
        "owl", "fox", "wolf", "deer", "whale", "cottage", "lighthouse", "market", "kitchen",
        "teapot", "vase", "bottle", "apples", "mushrooms", "butterfly", "butterflies",
    ),
}
# fmt: on

# Bare category nouns: a comment that names only these ("love the colors") is vague, and the
# feature is named from the image's tags instead.
CATEGORY_HEADS: dict[str, Category] = {
    "color": Category.COLOR,
    "colors": Category.COLOR,
    "colour": Category.COLOR,
    "colours": Category.COLOR,
    "palette": Category.COLOR,
    "color scheme": Category.COLOR,
    "colour scheme": Category.COLOR,
    "tones": Category.COLOR,
    "hues": Category.COLOR,
    "light": Category.LIGHTING,
    "lighting": Category.LIGHTING,
    "composition": Category.COMPOSITION,
    "layout": Category.COMPOSITION,
    "framing": Category.COMPOSITION,
    "style": Category.STYLE,
    "art style": Category.STYLE,
    "medium": Category.MEDIUM,
    "texture": Category.TEXTURE,
    "textures": Category.TEXTURE,
    "mood": Category.MOOD,
    "atmosphere": Category.MOOD,
    "vibe": Category.MOOD,
    "vibes": Category.MOOD,
    "detail": Category.DETAIL,
    "details": Category.DETAIL,
    "perspective": Category.PERSPECTIVE,
    "angle": Category.PERSPECTIVE,
    "viewpoint": Category.PERSPECTIVE,
    "point of view": Category.PERSPECTIVE,
}

# Words that head a noun phrase (so "the colors are saturated" becomes "saturated colors").
# fmt: off
NOUN_HEADS: frozenset[str] = frozenset(
    {
        *CATEGORY_HEADS,
        "background", "foreground", "lines", "shapes", "edges", "shadows", "sky", "brushwork",
        "brushstrokes", "strokes", "contrast", "grain", "highlights", "blues", "reds", "greens",
        "accents", "figures", "linework", "space", "symmetry", "depth", "glow", "reflections",
        "sunlight", "gradients", "pastels", "clutter", "noise", "blur", "focus", "saturation",
        "patterns", "curves", "silhouette", "silhouettes", "haze", "fog", "mist", "darkness",
    }
)
# fmt: on


def vocabulary() -> dict[str, Category]:
    """Every curated term and its category (a new dict per call; callers keep their copy)."""
    terms: dict[str, Category] = {}
    for category, words in _TERMS.items():
        for word in words:
            terms.setdefault(word, category)
    return terms


def visual_vocabulary_size() -> int:
    """How many non-subject terms there are (the issue asks for at least 300)."""
    return sum(1 for c in vocabulary().values() if c is not Category.SUBJECT)
