"""schemathesis against the server's OpenAPI: no server error and no response the
schema does not document (status, content type, body), for generated requests, valid
(positive) and invalid (negative) alike."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pausepact.server.app import create_app
from pausepact.server.node import Node
from tests.netkit import adoptions, workspace


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    root: Path = tmp_path_factory.mktemp("schema") / "ws"
    ws = workspace(root, quorum=0)
    node = Node.from_workspace(root, publish_interval=0.05)
    node.submit(adoptions(ws)[:4])
    node.publish_now()
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(node))
    finally:
        node.close()


def test_every_response_is_documented(api_schema: schemathesis.BaseSchema) -> None:
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10

    for operation, mode in itertools.product(operations, list(GenerationMode)):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.method, case.path, response.text)
            case.validate_response(response, checks=checks)

        try:
            call()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing invalid to send (no parameters)
