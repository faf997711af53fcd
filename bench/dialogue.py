"""Asking instead of guessing, measured with a simulated person (issue 21; docs/benchmarks.md).

    python bench/dialogue.py                          # offline reader, every labelled set
    python bench/dialogue.py --simulate oracle|flip|echo   # the LLM path on the loopback server

A simulated person answers each question from the labels (like, dislike, or "neither" when the
asked phrase is not labelled) and volunteers nothing else (``agent.dialogue_eval``). Per set:
the polarity errors stored before any answer, F1 of the profile after the answers, questions per
comment, and the same reader storing every guess (no asking) beside it. Seen sets and blind sets
are printed apart; the blind ones are the figures that count (``bench/extraction.py`` says which
set was seen when).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import torch  # noqa: E402
from extraction import DATA_DIR, SETS  # noqa: E402

from agent.dialogue_eval import DialogueScore, simulate  # noqa: E402
from agent.evaluation import Labelled, load_labelled  # noqa: E402
from agent.extraction import Extraction, ExtractionError, Extractor  # noqa: E402

HEADER = (
    f"{'':<24}{'n':>4} | {'asking: stored err':>18}{'F1 after':>9}{'q/comment':>10}"
    f" | {'guessing: err':>13}{'F1':>7}"
)


def extract_all(extractor: Extractor, rows: list[Labelled]) -> list[Extraction]:
    out = []
    for row in rows:
        try:
            out.append(extractor.extract(row.comment, row.image))
        except (ExtractionError, ValueError) as error:
            out.append(Extraction(notes=[str(error)]))
    return out


def line(name: str, asking: DialogueScore, guessing: DialogueScore) -> str:
    return (
        f"{name:<24}{asking.comments:>4} | {asking.before.polarity_errors:>18}"
        f"{asking.after.f1:>9.3f}{asking.questions_per_comment:>10.2f}"
        f" | {guessing.before.polarity_errors:>13}{guessing.after.f1:>7.3f}"
    )


def report(extractor: Extractor, names: list[tuple[str, str, bool]], blind_too: bool) -> None:
    groups = (("seen sets", False), ("blind sets (scored once)", True))
    for group, want_blind in groups if blind_too else groups[:1]:
        print(f"\n-- {group}")
        print(HEADER)
        total_ask, total_guess = DialogueScore(), DialogueScore()
        for name, file, blind in names:
            if blind is not want_blind:
                continue
            rows = load_labelled(DATA_DIR / file)
            extractions = extract_all(extractor, rows)
            asking = simulate(rows, extractions)
            guessing = simulate(rows, extractions, asking=False)
            print(line(name, asking, guessing))
            for total, one in ((total_ask, asking), (total_guess, guessing)):
                total.before.add(one.before)
                total.after.add(one.after)
                total.comments += one.comments
                total.questions += one.questions
        print(line("all", total_ask, total_guess))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--simulate", choices=["oracle", "flip", "echo"])
    parser.add_argument(
        "--seen-only", action="store_true", help="leave the blind sets unscored (while tuning)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    from api.wiring.agent import build_extractor, build_offline_extractor
    from api.wiring.services import load_settings, open_embedder

    settings = load_settings()
    if not args.simulate:
        print("offline reader")
        report(build_offline_extractor(open_embedder(settings)), list(SETS), not args.seen_only)
        return
    from bench.llm_simulation import simulated_settings

    paths = [DATA_DIR / file for _, file, _ in SETS]
    with simulated_settings(settings, args.simulate, paths) as simulated:
        print(f"LLM path, simulated model ({args.simulate}) on the loopback server")
        extractor = build_extractor(simulated, open_embedder(simulated))
        report(extractor, list(SETS), not args.seen_only)


if __name__ == "__main__":
    main()
