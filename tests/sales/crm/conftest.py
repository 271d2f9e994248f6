"""The CRM tests' shared fixture: a Salesforce org on a local HTTPS server, and the environment
that reaches it."""

import pytest

from sales.crm import retry, salesforce
from tests.sales.crm.fakes import TOKEN, FakeSalesforce, tls_server

_OTHER_VARS = [v for v in salesforce.ENV_VARS if v not in salesforce.TOKEN_FLOW]


@pytest.fixture
def org(tmp_path, monkeypatch):
    server, bundle = tls_server(tmp_path)
    fake = FakeSalesforce()
    fake.install(server)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", server.url_for("/").rstrip("/"))
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", TOKEN)
    for name in _OTHER_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(retry, "RETRY_DELAYS_S", (0.0, 0.0, 0.0))
    yield fake
    fake.release.set()
    server.clear()
    server.stop()
