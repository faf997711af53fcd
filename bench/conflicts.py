"""Prompt-conflict check on the labelled prompt/attribute pairs in tests/data/conflict_pairs.jsonl.

    python bench/conflicts.py            # add --verbose to list every wrong verdict

Prints accuracy, precision and recall of "this attribute conflicts with the prompt" for the
check as it runs in plan.py (words folded for spelling and plurals + the attribute's category)
and, side by side, for the same check given words only (no category), so the gain from reading
meaning is visible.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generation.conflicts import contradiction  # noqa: E402
from preference_store.models import Category, Polarity  # noqa: E402

PAIRS = ROOT / "tests" / "data" / "conflict_pairs.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]
    print(f"{len(pairs)} labelled pairs, {sum(p['conflict'] for p in pairs)} conflicts")
    print(f"{'check':<28}{'accuracy':>9}{'precision':>10}{'recall':>8}")
    for name, with_category in (("words only", False), ("words + category (plan.py)", True)):
        tp = fp = fn = right = 0
        for pair in pairs:
            category = Category(pair["category"]) if with_category else None
            said = (
                contradiction(
                    pair["prompt"], pair["attribute"], Polarity(pair["polarity"]), category
                )
                is not None
            )
            right += said is pair["conflict"]
            tp += said and pair["conflict"]
            fp += said and not pair["conflict"]
            fn += pair["conflict"] and not said
            if args.verbose and said is not pair["conflict"]:
                print(f"   {name}: {pair['prompt']!r} / {pair['attribute']!r} -> {said}")
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"{name:<28}{right / len(pairs):>9.3f}{precision:>10.3f}{recall:>8.3f}")


if __name__ == "__main__":
    main()
