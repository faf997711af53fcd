"""A hostile or careless client cannot get a 5xx or break its own profile: secrets compared
as bytes, streamed bodies bounded, imports held to the same rules as every route."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent.offline import OfflineExtractor
from api.app import create_app
from api.settings import Settings
from api.wiring.jobs import job_kinds
from api.wiring.services import Components
from generation.request import GenerationRequest
from jobs.feedback import apply_pending_feedback
from jobs.feedback_inbox import FeedbackInbox
from jobs.generation import GENERATION
from jobs.repository import JobRepository
from preference_store.embeddings import SentenceTransformerEmbedder
from preference_store.models import ATTRIBUTE_ID_PATTERN
from tests.doubles.admin_client import admin_app, new_user


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    with admin_app(tmp_path_factory.mktemp("hardening") / "data", max_attributes=20) as service:
        yield service


@pytest.fixture()
def client(service: tuple[TestClient, Settings]) -> TestClient:
    return service[0]


# -- 4: secrets ----------------------------------------------------------------------------


def test_a_non_ascii_bearer_token_is_refused_not_a_server_error(client: TestClient) -> None:
    for token in ("adm\u00efn-secret", "\u00e9", "admin-secret\u00ff", "\u6f22\u5b57"):
        raw = f"Bearer {token}".encode()  # as a client on the wire sends it
        answer = client.post("/v1/users", json={"id": "mallory"}, headers={"Authorization": raw})
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"].startswith("creating users needs the admin token")


# -- 5: streamed bodies ----------------------------------------------------------------------


def test_a_streamed_oversized_body_is_413_like_an_announced_one(client: TestClient) -> None:
    _, headers = new_user(client)
    chunk = b" " * 65_536

    def stream() -> Iterator[bytes]:
        yield b'{"schema": "tastemaker.profile", "padding": "'
        for _ in range(20):  # 1.25 MiB, never announced
            yield chunk
        yield b'"}'

    streamed = client.post(
        "/v1/preferences/import",
        content=stream(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert streamed.status_code == 413, streamed.text
    assert "over 1048576 bytes" in streamed.json()["detail"]
    announced = client.post("/v1/preferences/import", content=b" " * 1_100_000, headers=headers)
    assert announced.status_code == 413
    assert client.get("/v1/me", headers=headers).status_code == 200  # the service is fine


# -- 3: imports ------------------------------------------------------------------------------


def exported(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/v1/preferences/export", headers=headers).json()
    return document


def attribute(identifier: str, text: str) -> dict[str, Any]:
    return {"id": identifier, "text": text, "category": "color", "polarity": "like"}


def document_for(user: str, attributes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "schema": "tastemaker.profile",
        "schema_version": 1,
        "user_id": user,
        "attributes": attributes,
        **extra,
    }


def test_an_imported_version_number_is_the_importers_and_bounded(client: TestClient) -> None:
    _user, headers = new_user(client)
    client.post("/v1/preferences", headers=headers, json={"text": "teal", "polarity": "like"})
    document = exported(client, headers)
    document["version"] = 57
    document["attributes"][0]["text"] = "gold"
    imported = client.post("/v1/preferences/import", headers=headers, json=document)
    assert imported.status_code == 200 and imported.json()["version"] == 2  # not 57
    for huge in (2**63 - 1, 10**30):
        document["version"] = huge
        refused = client.post("/v1/preferences/import", headers=headers, json=document)
        assert refused.status_code == 422, refused.text
        assert "version" in refused.json()["detail"]
    added = client.post("/v1/preferences", headers=headers, json={"text": "x", "polarity": "like"})
    assert added.status_code == 201  # every write still works
    assert client.get("/v1/me", headers=headers).json()["profile_version"] == 3


def test_duplicate_attribute_ids_in_an_import_are_refused(client: TestClient) -> None:
    user, headers = new_user(client)
    twice = [attribute("same", "teal palette"), attribute("same", "gold light")]
    refused = client.post("/v1/preferences/import", headers=headers, json=document_for(user, twice))
    assert refused.status_code == 422 and "'same' appears twice" in refused.json()["detail"]
    assert client.get("/v1/preferences/search?q=teal", headers=headers).status_code == 200


@pytest.mark.parametrize("identifier", ["../../x:y", "a" * 3_000, "", "sp ace", "dot.ted"])
def test_imported_ids_must_fit_the_routes_id_pattern(client: TestClient, identifier: str) -> None:
    user, headers = new_user(client)
    document = document_for(user, [attribute(identifier, "teal palette")])
    refused = client.post("/v1/preferences/import", headers=headers, json=document)
    assert refused.status_code == 422, refused.text
    assert client.get("/v1/preferences/export", headers=headers).json()["attributes"] == []


def test_a_profile_holds_at_most_the_configured_number_of_attributes(client: TestClient) -> None:
    user, headers = new_user(client)  # the service allows 20 (max_attributes)
    many = [attribute(f"a{n}", f"colour number {n}") for n in range(21)]
    refused = client.post("/v1/preferences/import", headers=headers, json=document_for(user, many))
    assert refused.status_code == 422 and "at most 20" in refused.json()["detail"]
    fits = client.post(
        "/v1/preferences/import", headers=headers, json=document_for(user, many[:20])
    )
    assert fits.status_code == 200 and fits.json()["attribute_count"] == 20
    one_more = client.post(
        "/v1/preferences", headers=headers, json={"text": "neon glow", "polarity": "like"}
    )
    assert one_more.status_code == 422 and "at most 20 attributes" in one_more.json()["detail"]
    found = client.get("/v1/preferences/search?q=colour&limit=100", headers=headers).json()
    assert len(found) == 20  # every imported attribute was embedded
    some = client.get("/v1/preferences/export", headers=headers).json()["attributes"][0]["id"]
    assert client.delete(f"/v1/preferences/{some}", headers=headers).status_code == 204


def test_one_bad_pending_feedback_does_not_stop_the_others(
    tmp_path: Path, warm_cache: Path, embedder: SentenceTransformerEmbedder
) -> None:
    import api.app  # noqa: F401  (registers the service's tables before the schema is made)

    components = Components(Settings(data_dir=tmp_path / "data", cache_dir=warm_cache))
    jobs = JobRepository(components.engine, job_kinds())
    inbox = FeedbackInbox(components.engine)
    for user in ("amy", "ben"):
        jobs.create(user, GENERATION, GenerationRequest(prompt="a lighthouse at dusk"))
        [job] = jobs.claim("worker", [GENERATION])
        jobs.mark_done(job, {"images": 1})
        # amy's row cannot be applied (an empty comment, written by an older version)
        inbox.record(job.id, user, True, "" if user == "amy" else "love the warm golden light")
    applied = apply_pending_feedback(
        components.store, OfflineExtractor(embedder), inbox, jobs, components.blobs
    )
    assert applied == 1
    assert [p.user_id for p in inbox.pending()] == ["amy"]  # kept, not lost
    assert "warm golden light" in {a.text for a in components.store.profile("ben").liked()}


# -- 9: the schema states every bound --------------------------------------------------------


def test_the_schema_carries_the_bounds_the_server_enforces(
    service: tuple[TestClient, Settings],
) -> None:
    client, settings = service
    schema = client.get("/openapi.json").json()
    parts = schema["components"]["schemas"]

    def bound(name: str, prop: str, keyword: str) -> object:
        declared = parts[name]["properties"][prop]
        branches = [b for b in declared.get("anyOf", [declared]) if b.get("type") != "null"]
        return branches[0].get(keyword)

    generation = "GenerationCreate"
    assert bound(generation, "width", "maximum") == settings.max_side
    assert bound(generation, "height", "maximum") == settings.max_side
    assert bound(generation, "width", "multipleOf") == 8
    assert bound(generation, "steps", "maximum") == settings.max_steps
    assert bound(generation, "num_images", "maximum") == settings.max_images
    assert bound(generation, "prompt", "maxLength") == settings.max_prompt_chars
    assert bound("OnboardingMessageIn", "text", "maxLength") == settings.max_comment_chars
    assert bound("ProfileDocument", "attributes", "maxItems") == 20
    pattern = bound("AttributeCreate", "text", "pattern")
    assert isinstance(pattern, str) and bound("AttributeCreate", "text", "maxLength") == 80
    assert re.fullmatch(pattern, "one two three four five six")
    assert not re.fullmatch(pattern, "one two three four five six seven")
    assert bound("ImportedAttribute", "id", "pattern") == ATTRIBUTE_ID_PATTERN
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    links = schema["paths"]["/v1/onboarding"]["post"]["responses"]["201"]["links"]
    assert len(links) == 4 and {link["operationId"] for link in links.values()} <= operations
    for path, count in (("/v1/generations", 4), ("/v1/styles", 3)):  # to the job's own routes
        to = schema["paths"][path]["post"]["responses"]["202"]["links"].values()
        assert len(to) == count and {link["operationId"] for link in to} <= operations
    importing = schema["paths"]["/v1/preferences/import"]["post"]["requestBody"]
    assert importing["content"]["application/json"]["schema"]["$ref"].endswith("ProfileDocument")
    too_wide = client.post(
        "/v1/generations",
        headers=new_user(client)[1],
        json={"prompt": "a cat", "width": settings.max_side + 8},
    )
    assert too_wide.status_code == 422 and "width" in too_wide.json()["detail"]
    assert "TASTEMAKER_MAX_SIDE raises it" in too_wide.json()["detail"]


def test_the_largest_side_depends_on_the_device_unless_set() -> None:
    """Issue 25, item 7: on a CPU a 1024² step takes minutes (docs/benchmarks.md), so a CPU
    service refuses it by default; an accelerator's takes it; an operator's value wins."""
    assert Settings(device="cpu").max_side == 512
    assert Settings(device="cuda").max_side == Settings(device="cuda:1").max_side == 1024
    assert Settings(device="cpu", max_side=1024).max_side == 1024
    assert Settings(device="cuda", max_side=256).max_side == 256


def test_booleans_are_strict(client: TestClient) -> None:
    _user, headers = new_user(client)
    for lax in (0, 1, "true", "yes"):
        feedback = client.post(
            "/v1/generations/abc123/feedback", headers=headers, json={"liked": lax}
        )
        assert feedback.status_code == 422 and "liked" in feedback.json()["detail"], lax
        plain = client.post(
            "/v1/generations",
            headers=headers,
            json={"prompt": "a cat", "include_plain": lax},
        )
        assert plain.status_code == 422 and "include_plain" in plain.json()["detail"], lax


# -- 8: web hardening --------------------------------------------------------------------------


def test_the_page_and_every_answer_carry_security_headers(client: TestClient) -> None:
    for path in ("/", "/static/core.js", "/v1/me", "/healthz"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy, path
        assert "unsafe-inline" not in policy, path


def test_the_api_docs_are_served_without_a_cdn(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assert "cdn" not in page.text.lower() and "https://" not in page.text, path
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
            assert client.get(asset).status_code == 200, asset
    bundle = client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 500_000


def test_metrics_can_be_limited_to_a_token_or_to_this_machine(
    tmp_path: Path, warm_cache: Path
) -> None:
    locked = Settings(data_dir=tmp_path / "a", cache_dir=warm_cache, metrics_token="scrape-\u00e9")
    with TestClient(create_app(locked)) as client:
        assert client.get("/metrics").status_code == 401
        wrong = {"Authorization": b"Bearer scrape-\xc3\xa8"}
        assert client.get("/metrics", headers=wrong).status_code == 401
        right = {"Authorization": "Bearer scrape-\u00e9".encode()}
        assert "tastemaker_http_requests" in client.get("/metrics", headers=right).text
    local = Settings(data_dir=tmp_path / "b", cache_dir=warm_cache, metrics_loopback_only=True)
    with TestClient(create_app(local)) as client:  # the test client's address is "testclient"
        assert client.get("/metrics").status_code == 403
    with TestClient(create_app(local), client=("127.0.0.1", 50_000)) as client:
        assert client.get("/metrics").status_code == 200


def test_the_page_signs_in_with_an_httponly_cookie_and_changes_need_the_csrf_header(
    client: TestClient,
) -> None:
    user, headers = new_user(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    with TestClient(client.app) as page:
        assert page.post("/v1/session", json={"token": "tm_wrong"}).status_code == 401
        signed = page.post("/v1/session", json={"token": token})
        assert signed.status_code == 200 and signed.json() == {"id": user}
        cookies = signed.headers.get_list("set-cookie")
        auth_cookie = next(c for c in cookies if c.startswith("tm_auth="))
        assert "httponly" in auth_cookie.lower() and "samesite=strict" in auth_cookie.lower()
        assert page.get("/v1/me").json()["id"] == user  # reads need only the cookie
        body = {"text": "teal palette", "polarity": "like"}
        forged = page.post("/v1/preferences", json=body)  # what another site could send
        assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["detail"]
        wrong = page.post("/v1/preferences", json=body, headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403
        csrf = page.cookies["tm_csrf"]
        added = page.post("/v1/preferences", json=body, headers={"X-CSRF-Token": csrf})
        assert added.status_code == 201
        assert page.delete("/v1/session").status_code == 204
        assert page.get("/v1/me").status_code == 401
