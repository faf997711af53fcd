"""Can MiniLM read a clause's polarity? A linear probe on sentence embeddings, measured honestly.

    python bench/polarity_probe.py

Every labelled phrase of the seen sets is paired with the clause the offline extractor reads it
in; a logistic regression on the clause's MiniLM embedding predicts like/dislike. Each set is
scored by a probe trained on all the other sets (leave one set out), so no figure comes from data
the probe was fitted on. It also counts what the probe would do as a second opinion: how many of
the rules' polarity errors it contradicts with confidence, and how many right answers.

Why: a learned second opinion was the next idea for the long comments' polarity errors; this
says whether the only text model available offline can give one.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from agent.evaluation import load_labelled, overlap  # noqa: E402
from agent.extraction import clean_comment  # noqa: E402
from agent.offline import OfflineExtractor  # noqa: E402
from preference_store.models import Polarity  # noqa: E402

SEEN = ("eval", "heldout", "heldout2", "tuning", "heldout_short", "heldout_long", "tuning2",
        "blind_short", "blind_long", "blind3_short", "blind3_long")  # fmt: skip
CONFIDENT = 0.85


@dataclass
class Example:
    labelled_set: str
    clause: str
    liked: bool
    rules_liked: bool | None  # the offline rules' answer for the phrase, None when they give none


def examples(extractor: OfflineExtractor) -> list[Example]:
    found = []
    for name in SEEN:
        for row in load_labelled(ROOT / "tests" / "data" / f"extraction_{name}.jsonl"):
            try:
                clauses, _, _ = extractor._read(clean_comment(row.comment))
            except ValueError:
                continue  # a row that tests refusals
            labelled = [(t, True) for t in row.liked] + [(t, False) for t in row.disliked]
            for phrase, liked in labelled:
                scored = [(overlap(r.text, phrase), c, r) for c in clauses for r in c.runs]
                if not scored:
                    continue
                score, clause, run = max(scored, key=lambda item: item[0])
                if score >= 0.5:
                    rules = None if run.polarity is None else run.polarity is Polarity.LIKE
                    found.append(Example(name, clause.text, liked, rules))
    return found


def fit(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression (LBFGS)."""
    x = torch.tensor(features)
    y = torch.tensor(labels, dtype=torch.float32)
    weights = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([weights, bias], max_iter=200)

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(x @ weights + bias, y)
        value = value + 1e-2 * (weights * weights).sum()
        value.backward()
        return value

    optimiser.step(loss)
    return weights.detach().numpy(), float(bias.detach().numpy()[0])


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    torch.set_num_threads(2)
    from api.wiring.agent import build_offline_extractor
    from api.wiring.services import load_settings, open_embedder

    embedder = open_embedder(load_settings())
    found = examples(build_offline_extractor(embedder))
    features = np.asarray(embedder.embed([e.clause for e in found]), dtype=np.float32)
    labels = np.array([e.liked for e in found], dtype=np.float32)
    sets = np.array([e.labelled_set for e in found])
    right = caught = overruled = 0
    for name in SEEN:
        held = sets == name
        weights, bias = fit(features[~held], labels[~held])
        liked = 1 / (1 + np.exp(-(features[held] @ weights + bias)))
        right += int(((liked > 0.5) == (labels[held] > 0.5)).sum())
        for probability, example in zip(liked, np.array(found)[held], strict=True):
            if example.rules_liked is None:
                continue
            confident = probability > CONFIDENT if not example.rules_liked else probability < 0.15
            if confident:
                if example.rules_liked == example.liked:
                    overruled += 1
                else:
                    caught += 1
    errors = sum(1 for e in found if e.rules_liked is not None and e.rules_liked != e.liked)
    majority = max(labels.mean(), 1 - labels.mean())
    print(f"{len(found)} labelled phrases in their clauses, {len(SEEN)} sets")
    print(f"probe accuracy, leave one set out: {right / len(found):.3f} (majority {majority:.3f})")
    print(
        f"as a second opinion at {CONFIDENT:.2f} confidence: contradicts {caught} of the rules' "
        f"{errors} polarity errors and {overruled} of their right answers"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
