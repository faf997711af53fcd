""" "What made you pick that one?" (issue 22): asked after a surprising pick only, at most once
per WHY_EVERY choices, read again from the history alone (agent.pick_why)."""

from __future__ import annotations

from agent.pick_why import WhyRule, asked_why, picked_image, surprising
from api.settings import Settings
from preference_store.choices import Choice

DEFAULTS = Settings()
SURPRISE, WHY_EVERY = DEFAULTS.why_surprise, DEFAULTS.why_every
RULE = WhyRule(SURPRISE, WHY_EVERY)


def _choice(number: int, predicted: float, answer: str) -> Choice:
    return Choice(
        id=f"p{number}", user_id="u", left=f"a{number}", right=f"b{number}",
        predicted=predicted, answer=answer,  # type: ignore[arg-type]
    )  # fmt: skip


def test_only_a_pick_against_a_confident_model_is_surprising() -> None:
    sure_left = 1.0 - (1.0 - SURPRISE) / 2  # the model gave the left image ~0.875
    assert surprising(_choice(1, sure_left, "right"), SURPRISE)
    assert not surprising(_choice(1, sure_left, "left"), SURPRISE)  # as predicted
    assert surprising(_choice(1, 1.0 - sure_left, "left"), SURPRISE)
    assert not surprising(_choice(1, 0.6, "right"), SURPRISE)  # not confident enough
    assert not surprising(_choice(1, sure_left, "neither"), SURPRISE)  # neither picks nothing
    assert picked_image(_choice(1, 0.9, "right")) == "b1"


def test_at_most_one_question_per_window_of_choices() -> None:
    every_one_surprising = [_choice(i, 0.9, "right") for i in range(3 * WHY_EVERY)]
    asked = asked_why(every_one_surprising, RULE)
    assert asked == {f"p{i}" for i in range(0, 3 * WHY_EVERY, WHY_EVERY)}
    calm = [_choice(i, 0.9, "left") for i in range(3 * WHY_EVERY)]
    assert asked_why(calm, RULE) == set()
    skipped = [_choice(0, 0.9, "skip"), _choice(1, 0.9, "right")]
    assert asked_why(skipped, RULE) == {"p1"}  # a skip is no choice and asks nothing
    assert asked_why(every_one_surprising[:2], RULE) <= asked  # the past never changes
