"""The browser tests' shared parts: Debian's Chromium driven by Playwright, and `streamlit run`
on a free port. Every test in this folder is slow (a real server and a real browser)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench import load

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which(
    "chromium-browser")


# Flags for a sandboxed machine with no network but loopback (background services would
# otherwise keep trying to reach the internet).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextmanager
def serving(database: Path, port: int | None = None, host: str = "127.0.0.1",
            options: tuple[str, ...] = ()) -> Iterator[str]:
    """`streamlit run app.py` on a (free) port over `database`, with more Streamlit `options`
    (`--secrets.files …`); yields its URL. The same server the load bench starts."""
    with load.serving(database, port, host, options) as server:
        yield server.url


@pytest.fixture(scope="module")
def app_url(demo_db, tmp_path_factory):
    # The server gets a copy: a page test in this process may hold the shared demo file open
    # for writing, and DuckDB lets one process write a file.
    database = tmp_path_factory.mktemp("browser") / "demo.duckdb"
    shutil.copyfile(demo_db, database)
    with serving(database) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium missing in CI: .ci/run should have installed it")
        pytest.skip("Chromium not found: install it (Debian: `apt-get install chromium`) or set "
                    "CHROMIUM_PATH; .ci/run installs it in CI")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()




@pytest.fixture(scope="session")
def serve_team_mode(serve):
    """`serve_team_mode(database, folder, provider)`: `streamlit run` over `database` in team
    mode, signing in through `provider` (secrets written to `folder`); yields its URL."""
    @contextmanager
    def run(database: Path, folder: Path, provider: str) -> Iterator[str]:
        port = load.free_port()
        secrets_file = folder / "secrets.toml"
        secrets_file.write_text(f"""[auth]
redirect_uri = "http://localhost:{port}/oauth2callback"
cookie_secret = "{secrets.token_urlsafe(32)}"
client_id = "sales-dashboard"
client_secret = "{secrets.token_urlsafe(16)}"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""")
        with serve(database, port=port, host="localhost",
                   options=("--secrets.files", str(secrets_file))) as url:
            yield url
    return run


@pytest.fixture(scope="session")
def serve():
    """`serving(database, port=None, host=..., options=())` for a test's own server."""
    return serving


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def provider():
    """A local OpenID Connect provider (oidc-provider-mock) for team mode to sign in through;
    its form signs in whatever email is typed."""
    mock = pytest.importorskip("oidc_provider_mock")
    with mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


# --- several processes behind Debian's nginx, state in a throwaway PostgreSQL ---------------

NGINX = os.environ.get("NGINX_PATH") or shutil.which("nginx") or (
    "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
README = Path(__file__).resolve().parents[2] / "README.md"


def _missing(what: str, install: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} missing in CI: .ci/run should have installed it")
    pytest.skip(f"{what} not found: install it (Debian: `apt-get install {install}`); "
                ".ci/run installs it in CI")


def readme_nginx_config(ports: list[int], listen: int) -> str:
    """The README's nginx block (the only ```nginx fence in it) with the test's ports: one
    upstream line per app port, listening on loopback. Test-only: each response names the
    process that served it (X-Upstream), so a test can prove where a browser went."""
    text = README.read_text()
    start = text.index("```nginx\n") + len("```nginx\n")
    block = text[start:text.index("```", start)]
    server = re.compile(r"^([ \t]*)server 127\.0\.0\.1:\d+ (.*);\n", re.M)
    first = server.search(block)
    lines = "".join(f"{first.group(1)}server 127.0.0.1:{port} {first.group(2)};\n"
                    for port in ports)
    block = block[:first.start()] + lines + server.sub("", block[first.start():])
    block = re.sub(r"^([ \t]*)listen 80;$", rf"\1listen 127.0.0.1:{listen};", block, flags=re.M)
    return block.replace("add_header Set-Cookie $sales_route_cookie always;",
                         "add_header Set-Cookie $sales_route_cookie always;\n"
                         "        add_header X-Upstream $upstream_addr always;")


def _wait_port(port: int, process: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited early")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


@contextmanager
def nginx_in_front(ports: list[int], folder: Path) -> Iterator[str]:
    """Debian's nginx running the README's configuration in front of the app `ports`, in the
    foreground, everything under `folder`; yields its URL."""
    if NGINX is None:
        _missing("nginx", "nginx")
    listen = load.free_port()
    (folder / "sales.conf").write_text(readme_nginx_config(ports, listen))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers would run as nobody
    (folder / "nginx.conf").write_text(f"""{user}daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/sales.conf;
}}
""")
    command = [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(listen, process)
        yield f"http://localhost:{listen}"
    finally:
        process.terminate()
        process.wait(timeout=20)
