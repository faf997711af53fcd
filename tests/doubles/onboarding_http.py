"""Onboarding over HTTP: the comments of ``ONBOARDING_COMMENTS`` until the session can finish.

Shared by the single-node journey and the two-node cluster test, which sends its messages to
the nodes in turn (any node must serve any turn of any session).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from tests.doubles.uvicorn_server import ONBOARDING_COMMENTS


def comment_and_finish(
    nodes: Sequence[httpx.Client], session_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    """Comment on at least 8 images (message n goes to ``nodes[n % len(nodes)]``), then finish
    on the last node; returns the finish reply."""
    turn: dict[str, Any] = {}
    for number, comment in enumerate(ONBOARDING_COMMENTS, start=1):
        node = nodes[number % len(nodes)]
        reply = node.post(
            f"/v1/onboarding/{session_id}/messages", headers=headers, json={"text": comment}
        )
        assert reply.status_code == 200, reply.text
        turn = reply.json()
        if number >= 8 and turn["can_finish"]:
            break
    assert turn["can_finish"], turn
    finished = nodes[-1].post(f"/v1/onboarding/{session_id}/finish", headers=headers)
    assert finished.status_code == 200, finished.text
    result: dict[str, Any] = finished.json()
    return result
