"""Encode time of weighted and long prompts (compel) against the old truncating encode.

SD 1.5's text encoder (CLIP ViT-L/14 text tower, 12 layers, 768 wide) with random weights and the
tiny tokenizer (no hub), one torch thread, CPU time of this process. Each case is encoded
``--repeats`` times per round, rounds alternate, the fastest round is kept. The baseline is the
encode before issue 28: one 77-token window, the text truncated (what diffusers'
``encode_prompt`` does). Printed side by side: milliseconds per encode, chunks, and the ratio to
the baseline.

A weight above 1 costs arithmetic only; a weight below 1 (``[word]``) costs one more encoder pass
per such fragment (compel blends towards the prompt with that fragment masked out), which is why
attribute weights stay at 1 or above (the "weights below 1" row shows what they would cost); a
prompt of n chunks costs n passes.

    python bench/prompts.py                 # ~1 minute
    python bench/prompts.py --repeats 1 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel  # noqa: E402

from generation.prompt_syntax import attribute_weight, weighted  # noqa: E402
from generation.tiny import build_tiny_tokenizer  # noqa: E402
from generation.weighting import WeightedTextEncoder  # noqa: E402

WORDS = ["teal", "gold", "misty", "soft", "grainy", "bold", "warm", "matte", "quiet", "ornate"]
NOUNS = ["palette", "light", "lines", "texture", "shadows", "brushwork", "tones", "haze"]
SHORT = "a lighthouse on a cliff at dusk, soft light, film grain"


def attributes(count: int, strength: float) -> str:
    return ", ".join(
        weighted(f"{WORDS[i % 10]} {NOUNS[i % 8]}", attribute_weight(strength))
        for i in range(count)
    )


CASES: list[tuple[str, str]] = [
    ("short, unweighted", SHORT),
    ("short, (word:1.3) ×2", "a (lighthouse:1.3) on a cliff at dusk, (soft light:1.2), film grain"),
    ("short, [word] ×2", "a [lighthouse] on a cliff at dusk, [soft light], film grain"),
    ("short, BREAK", "a lighthouse on a cliff at dusk BREAK soft light, film grain"),
    ("VP+ 20 attributes", attributes(20, 0.7)),
    ("VP+ 20, weights below 1", ", ".join(f"[{WORDS[i % 10]} {NOUNS[i % 8]}]" for i in range(20))),
    ("long prompt", ", ".join(f"{SHORT} {i}" for i in range(6))),
]


def sd15_text_encoder() -> CLIPTextModel:
    torch.manual_seed(0)
    config = CLIPTextConfig(
        vocab_size=1000,
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        max_position_embeddings=77,
        bos_token_id=998,
        eos_token_id=999,
        pad_token_id=999,
    )
    return CLIPTextModel(config).eval().requires_grad_(False)


def cpu_ms(fn: Callable[[], object], repeats: int) -> float:
    started = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - started) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tokenizer = build_tiny_tokenizer()
    encoder = sd15_text_encoder()
    if len(tokenizer) != encoder.config.vocab_size:
        raise SystemExit(f"tiny tokenizer has {len(tokenizer)} tokens, encoder expects 1000")
    chunked = WeightedTextEncoder([tokenizer], [encoder], sdxl=False)

    def truncating(text: str) -> object:
        ids = tokenizer(text, padding="max_length", max_length=77, truncation=True).input_ids
        with torch.no_grad():
            return encoder(torch.tensor([ids]))[0]

    chunked.encode("(warm:1.1)")  # compel's empty-prompt encoding, computed once per process
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name, text in CASES:
            old = cpu_ms(lambda t=text: truncating(t), args.repeats)  # type: ignore[misc]
            new = cpu_ms(lambda t=text: chunked.encode(t), args.repeats)  # type: ignore[misc]
            prev = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(prev[0], old), min(prev[1], new))
    base = best[CASES[0][0]][0]
    print(f"{'case':30} {'chunks':>6} {'77-window ms':>12} {'chunked ms':>11} {'ratio':>6}")
    for name, text in CASES:
        old, new = best[name]
        chunks = chunked.count_chunks(text)
        print(f"{name:30} {chunks:>6} {old:>12.1f} {new:>11.1f} {new / base:>5.2f}×")
    print(f"ratio: chunked encode over the short unweighted 77-window encode ({base:.1f} ms)")


if __name__ == "__main__":
    main()
