"""The API documents the one shape its refusals have (ErrorDetail), and answers in it."""

from __future__ import annotations

from backend.schemas.common import ErrorDetail


def test_every_route_documents_the_refusal_shape_it_answers(api):
    doc = api.get("/openapi.json").json()
    assert set(doc["components"]["schemas"]["ErrorDetail"]["required"]) == {"code", "message"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            refusal = operation["responses"]["4XX"]["content"]["application/json"]["schema"]
            assert refusal["$ref"].endswith("/ErrorDetail"), (method, path)
            assert "422" not in operation["responses"], (method, path)  # FastAPI's own shape is not ours
    for refused in (
        api.post("/api/models", json={"name": "", "path": "x"}),  # a validation error (422)
        api.get("/api/models/999"),  # a service error (404)
    ):
        assert 400 <= refused.status_code < 500
        ErrorDetail.model_validate(refused.json())
