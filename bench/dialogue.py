"""Asking instead of guessing, measured with a simulated person (issue 21; docs/benchmarks.md).

    python bench/dialogue.py                          # offline reader, every labelled set
    python bench/dialogue.py --simulate oracle|flip|echo   # the LLM path on the loopback server
    python bench/dialogue.py --seen-only --misses     # list the stored wrong polarities of the
                                                      # seen sets, with the readings behind them

A simulated person answers each question from the labels (like, dislike, or "neither" when the
asked phrase is not labelled) and volunteers nothing else (``agent.dialogue_eval``). Per set:
the polarity errors stored before any answer, F1 of the profile after the answers, questions per
comment, and the same reader storing every guess (no asking) beside it. Seen sets and blind sets
are printed apart; the blind ones are the figures that count (``bench/extraction.py`` says which
set was seen when). Blind sets are scored once, at the end of the session that froze the reader,
as totals only: ``--misses`` never lists theirs. Round 3's blind sets (``extraction_blind4_*``
and ``dialogue_blind_*``) were scored so once and are seen (tuned on) since; ``dialogue_blind6_*``
is the blind set of the session that moved them (docs/benchmarks.md, "Asking when unsure").
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

from agent.dialogue_eval import DialogueScore, labelled_polarity, simulate  # noqa: E402
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


def misses(name: str, rows: list[Labelled], extractions: list[Extraction]) -> None:
    """The polarities stored without asking that the labels contradict (a seen set only)."""
    for row, extraction in zip(rows, extractions, strict=True):
        for attribute in extraction.attributes:
            said = labelled_polarity(row, attribute.text)
            if said is not None and said is not attribute.polarity:
                print(f"   {name} {row.id}: {attribute.text!r} stored {attribute.polarity.value}"
                      f", labelled {said.value} | {attribute.evidence[0]}")  # fmt: skip


def report(
    extractor: Extractor, names: list[tuple[str, str, bool]], blind_too: bool, show: bool = False
) -> None:
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
            if show and not blind:
                misses(name, rows, extractions)
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
    parser.add_argument(
        "--misses", action="store_true", help="list stored wrong polarities (seen sets only)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    from api.wiring.agent import build_extractor, build_offline_extractor
    from api.wiring.services import load_settings, open_embedder

    settings = load_settings()
    if not args.simulate:
        print("offline reader")
        offline = build_offline_extractor(open_embedder(settings))
        report(offline, list(SETS), not args.seen_only, args.misses)
        return
    from bench.llm_simulation import simulated_settings

    paths = [DATA_DIR / file for _, file, _ in SETS]
    with simulated_settings(settings, args.simulate, paths) as simulated:
        print(f"LLM path, simulated model ({args.simulate}) on the loopback server")
        extractor = build_extractor(simulated, open_embedder(simulated))
        report(extractor, list(SETS), not args.seen_only, args.misses)


if __name__ == "__main__":
    main()
