"""The Airflow API server (UI + REST) on 127.0.0.1: it answers its health endpoint, a login with
the simple auth manager's generated password gives a token the REST API accepts, and a request
without one is refused."""

from __future__ import annotations

import urllib.error
from urllib.parse import urlsplit

import pytest

from tests.dags.standalone import Standalone, get_json

pytestmark = pytest.mark.slow


def test_api_server_answers_health_on_localhost(shared_standalone: Standalone) -> None:
    airflow = shared_standalone  # its token came from a login with the generated password
    assert urlsplit(airflow.base).hostname == "127.0.0.1"
    health = get_json(f"{airflow.base}/api/v2/monitor/health")
    assert health["metadatabase"]["status"] == "healthy"

    assert airflow.get("/api/v2/importErrors")["total_entries"] == 0
    with pytest.raises(urllib.error.HTTPError) as denied:
        get_json(f"{airflow.base}/api/v2/importErrors")
    assert denied.value.code == 401
