"""schemathesis against the server's OpenAPI: no server error and no response the
schema does not document (status, content type, body), for generated requests, valid
(positive) and invalid (negative) alike."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import Response
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import UndefinedStatusCode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pausepact.server.app import create_app
from pausepact.server.node import Node
from tests.netkit import adoptions, workspace


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root: Path = tmp_path_factory.mktemp("schema") / "ws"
    ws = workspace(root, quorum=0)
    node = Node.from_workspace(root, publish_interval=0.05)
    node.submit(adoptions(ws)[:4])
    node.publish_now()
    try:
        yield node
    finally:
        node.close()


def check_every_operation(schema: schemathesis.BaseSchema, max_examples: int = 60) -> int:
    """Generated requests, valid and invalid, against every operation of ``schema``: no
    server error, and status, content type and body as documented. Returns how many
    operations were checked; the first failure raises."""
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]

    for operation, mode in itertools.product(operations, list(GenerationMode)):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.method, case.path, response.text)
            case.validate_response(response, checks=checks)

        try:
            call()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing invalid to send (no parameters)
    return len(operations)


def test_every_response_is_documented(node: Node) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(node))
    assert check_every_operation(schema) >= 10


def test_an_undocumented_status_makes_the_check_fail(node: Node) -> None:
    """The control: the same check, on the same server plus one operation that answers
    with a status its schema does not list, must fail, and say so."""
    app = create_app(node)

    @app.get("/undocumented", responses={200: {"description": "documented"}})
    def undocumented() -> Response:
        return Response(status_code=418)

    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path="/undocumented")
    with pytest.raises(FailureGroup) as failure:
        check_every_operation(schema, max_examples=5)
    (found,) = failure.value.exceptions
    assert isinstance(found, UndefinedStatusCode)
    assert "Received: 418" in str(found)
