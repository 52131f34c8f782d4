"""Schemathesis against the OpenAPI schema: whatever it sends, the API answers without a
server error (5xx). Kept short in the default run (a few examples per operation); run
longer with ``BONETURNOVER_SCHEMATHESIS_EXAMPLES=500``."""

from __future__ import annotations

import os
import warnings

import pytest
from hypothesis import HealthCheck, settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.checks import not_a_server_error

from .conftest import EXAMPLES, Clinic, upload

EXAMPLES_PER_OPERATION = int(os.environ.get("BONETURNOVER_SCHEMATHESIS_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    clinic = Clinic(f"sqlite:///{tmp_path_factory.mktemp('api') / 'clinic.sqlite3'}")
    upload(clinic.client("doc"), EXAMPLES / "denosumab_rebound.toml")
    token = clinic.token("doc")
    yield clinic, {"Authorization": f"Bearer {token}"}
    clinic.close()


def test_no_input_makes_a_server_error(served):
    from hypothesis import given

    clinic, auth = served
    api = schemathesis.openapi.from_asgi("/openapi.json", clinic.app)
    operations = [r.ok() for r in api.get_all_operations()]
    assert len(operations) >= 10
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            case.call_and_validate(headers=auth, checks=[not_a_server_error])

        no_server_error()
