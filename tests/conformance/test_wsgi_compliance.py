"""`app` as a WSGI 1.0 (PEP 3333) application, checked by the standard library's validator on every case."""

from __future__ import annotations

import warnings
from wsgiref.validate import validator

import pytest
from werkzeug.test import Client

from tests.conformance.app import application
from tests.conformance.cases import CASES, Case
from tests.conformance.hosts import HOST_HEADER


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_case_passes_the_pep3333_validator(case: Case) -> None:
    client = Client(validator(application))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the validator reports some violations as warnings
        response = client.open(case.path, method=case.method, headers={"Host": HOST_HEADER, **case.headers},
                               data=case.body)
        body = response.get_data()
        response.close()
    assert response.status_code == case.status, body[:300]
