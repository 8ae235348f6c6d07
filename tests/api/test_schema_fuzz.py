"""Fuzzes every operation of the OpenAPI schema (schemathesis) as a platform administrator
with a bearer token: whatever the input, the API never answers with a server error.

The WSGI application runs in this process, on the test's own database connection, so a
token made by a fixture is seen by the requests and everything is rolled back afterwards.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from caredeck.accounts.services import token_create


@pytest.fixture
def test_connection_kept():
    # Django closes "old" connections around each request; inside the test's transaction
    # that would mark it broken. Django's own test client switches this off the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(platform_admin, tenant_a, partner, tam):
    # A populated world (tenants, a partner link, a TAM) reaches deeper than an empty one.
    _, raw = token_create(actor=platform_admin, name="fuzzing")
    return raw


# Loaded while collecting (generating the schema touches no database). A lazy
# `schemathesis.pytest.from_fixture` would be neater but breaks on pytest 9 (it sets
# `node._nodeid`, which pytest 9 no longer has).
schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the working tree
    suppress_health_check=list(HealthCheck),
)
def test_it_never_answers_with_a_server_error(case, admin_token, test_connection_kept):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {admin_token}"}, checks=[not_a_server_error]
    )
