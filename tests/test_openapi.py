"""/openapi.json and /docs (CONTRACT.md §5): the bearer scheme on every route but /healthz, a
response model for every route, the real error body on every 4xx (never FastAPI's
HTTPValidationError), and Swagger UI served from the package alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cleanroom import analytics, attribution_service, pipeline
from cleanroom.answers import Answer
from cleanroom.openapi import SWAGGER_DIR, ErrorBody
from tests.conftest import COLLAB, Harness, make_client


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    return make_client(tmp_path_factory.mktemp("openapi") / "data")


@pytest.fixture(scope="module")
def doc(harness: Harness) -> dict[str, Any]:
    response = harness.client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_the_bearer_scheme_is_declared_and_applied_to_every_route_but_healthz(doc) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes == {"bearer": {"type": "http", "scheme": "bearer",
                                  "description": schemes["bearer"]["description"]}}
    ops = operations(doc)
    assert len(ops) >= 9
    for method, path, op in ops:
        expected = None if path == "/healthz" else [{"bearer": []}]
        assert op.get("security") == expected, (method, path)


def test_every_route_has_a_response_model(doc) -> None:
    for method, path, op in operations(doc):
        ok = [s for s in op["responses"] if s.startswith("2")]
        assert len(ok) == 1, (method, path)
        schema = op["responses"][ok[0]]["content"]["application/json"]["schema"]
        assert schema.get("$ref", "").startswith("#/components/schemas/"), (method, path, schema)
        name = schema["$ref"].rsplit("/", 1)[1]
        assert doc["components"]["schemas"][name]["properties"], name


def test_every_refusal_is_the_error_body_and_never_fastapis_422(doc) -> None:
    text = str(doc)
    assert "HTTPValidationError" not in text and "ValidationError'" not in text
    for method, path, op in operations(doc):
        refusals = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        if path != "/healthz":
            assert {"401", "403", "404", "422"} <= set(refusals), (method, path)
        for status, response in refusals.items():
            content = response["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)
            for example in content["examples"].values():
                ErrorBody.model_validate(example["value"])
    error = doc["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "violations"}
    violation = doc["components"]["schemas"]["ViolationBody"]
    assert set(violation["required"]) == {"rule", "message"}


def _declared(doc: dict[str, Any], method: str, path: str, status: int) -> list[str]:
    response = doc["paths"][path][method]["responses"].get(str(status))
    assert response is not None, (method, path, status)
    return list(response["content"]["application/json"]["examples"])


QUERIES = f"/v1/collaborations/{COLLAB}/queries"


@pytest.mark.parametrize(("label", "party", "body", "status", "code"), [
    ("no token", None, {"sql": "SELECT 1"}, 401, "unauthorized"),
    ("not an analyst", "streamco", {"sql": "SELECT 1"}, 403, "forbidden"),
    ("bad body", "acme", {"sql": 1}, 422, "invalid_request"),
    ("gate", "acme", {"sql": "SELECT user_key FROM impressions"}, 422, "query_rejected"),
])
def test_the_refusals_a_route_gives_are_the_ones_it_declares(harness, doc, label, party, body,
                                                             status, code) -> None:
    headers = harness.auth(party) if party else {}
    response = harness.client.post(QUERIES, json=body, headers=headers)
    assert response.status_code == status, response.text
    ErrorBody.model_validate(response.json())
    assert response.json()["error"]["code"] == code
    assert code in _declared(doc, "post", "/v1/collaborations/{c}/queries", status)


def test_an_upload_refusal_is_declared(harness, doc) -> None:
    response = harness.upload("impressions", b"a,b\n1,2\n", party="streamco")
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_upload"
    assert "invalid_upload" in _declared(doc, "put", "/v1/collaborations/{c}/datasets/{d}", 422)
    body = doc["paths"]["/v1/collaborations/{c}/datasets/{d}"]["put"]["requestBody"]["content"]
    assert {"text/csv", "application/vnd.apache.parquet"} <= set(body)


def test_each_pipeline_request_answers_with_its_routes_response_model(harness, doc,
                                                                     monkeypatch) -> None:
    """pipeline.Request(answer=...) is the route's response model: FastAPI would re-validate
    another class and drop the planner's extra keys."""
    seen: dict[str, type[Answer]] = {}
    real = pipeline.answer

    def spy(service, who, collaboration, request):  # type: ignore[no-untyped-def]
        seen[request.action] = request.answer
        return real(service, who, collaboration, request)

    for module in (pipeline, attribution_service, analytics):  # each imported the name
        monkeypatch.setattr(module, "answer", spy)
    client, auth = harness.client, harness.auth("acme")
    client.post(QUERIES, json={"sql": "SELECT COUNT(*) AS n FROM conversions"}, headers=auth)
    client.post(f"/v1/collaborations/{COLLAB}/attribution", headers=auth, json={
        "model": "last_touch", "touchpoints": "impressions", "conversions": "conversions",
        "dimension": "channel", "lookback_days": 30})
    client.post(f"/v1/collaborations/{COLLAB}/analytics/overlap", headers=auth,
                json={"a": "impressions", "b": "conversions"})
    models = {path.rsplit("/", 1)[-1]: ops["post"]["responses"]["200"]["content"][
        "application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for path, ops in doc["paths"].items() if "post" in ops}
    assert {action: model.__name__ for action, model in seen.items()} == {
        "query": models["queries"], "attribution": models["attribution"],
        "analytics": models["{name}"]}
    assert set(models.values()) >= {"QueryAnswer", "AttributionAnswer", "AnalyticsAnswer"}


def test_docs_load_only_the_packages_own_assets(harness) -> None:
    page = harness.client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and all(r.startswith("/docs/assets/") for r in refs), refs
    assert not re.search(r"https?://", page.text)  # no CDN, no validator badge
    assert '"validatorUrl": null' in page.text
    for ref in refs:
        asset = harness.client.get(ref)
        assert asset.status_code == 200 and asset.content == (SWAGGER_DIR / Path(ref).name).read_bytes()
    # Swagger UI 5 reads the OpenAPI 3.1 documents FastAPI writes (4.x renders them blank).
    assert harness.client.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = (SWAGGER_DIR / "swagger-ui-bundle.js").read_text(encoding="utf-8", errors="replace")
    assert "oas/3.1" in bundle
    assert harness.client.get("/redoc").status_code == 404  # it would load from a CDN


def test_the_swagger_files_carry_their_licence() -> None:
    assert "Apache License" in (SWAGGER_DIR / "LICENSE").read_text()
    assert "swagger-ui-dist 5." in (SWAGGER_DIR / "VERSION").read_text()


@pytest.mark.parametrize("path", ["/v1/collaborations/{c}/queries",
                                  "/v1/collaborations/{c}/attribution",
                                  "/v1/collaborations/{c}/analytics/{name}"])
def test_questions_declare_every_answer_format(doc: dict[str, Any], path: str) -> None:
    """CONTRACT.md §5's formats are in the document: JSON as the response model, CSV, Arrow and
    Parquet by Accept, with the CSV headers that say which cells were withheld."""
    answer = doc["paths"][path]["post"]["responses"]["200"]
    content = answer["content"]
    assert "$ref" in content["application/json"]["schema"]
    assert {"text/csv", "application/vnd.apache.arrow.stream",
            "application/vnd.apache.parquet"} <= set(content)
    assert {"X-Cleanroom-Row-Status", "X-Cleanroom-Withheld-Cells"} <= set(answer["headers"])
