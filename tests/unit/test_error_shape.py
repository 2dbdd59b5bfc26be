"""The API documents the one shape its refusals have (ErrorDetail), and answers in it."""

from __future__ import annotations

from backend.schemas.common import ErrorDetail


def test_every_route_documents_the_refusal_shape_it_answers(api):
    doc = api.get("/openapi.json").json()
    assert set(doc["components"]["schemas"]["ErrorDetail"]["required"]) == {"code", "message"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            refusals = {code: r for code, r in operation["responses"].items() if code.startswith("4")}
            if path.startswith("/v1/"):  # the OpenAI-compatible surface answers in OpenAI's shape
                assert "4XX" in refusals and "400" in refusals and "422" not in refusals, (method, path)
                for code, refusal in refusals.items():
                    schema = refusal["content"]["application/json"]["schema"]
                    assert schema["$ref"].endswith("/OpenAIError"), (method, path, code)
                continue
            assert "4XX" in refusals and "422" in refusals, (method, path)
            for (
                code,
                refusal,
            ) in refusals.items():  # FastAPI's own 422 shape (HTTPValidationError) is not ours
                schema = refusal["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorDetail"), (method, path, code)
    for refused in (
        api.post("/api/models", json={"name": "", "path": "x"}),  # a validation error (422)
        api.get("/api/models/999"),  # a service error (404)
    ):
        assert 400 <= refused.status_code < 500
        ErrorDetail.model_validate(refused.json())
