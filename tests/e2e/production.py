"""The production shape on loopback, for tests/e2e/test_production.py.

gunicorn serves `webapp:create_app()` with ROLLCALL_ENV=production on a loopback port;
Debian's nginx terminates TLS in front of it with a certificate made at test time by
openssl, appending X-Forwarded-For/-Proto/-Host as any TLS proxy does. Each process is a
child in its own session, waited for with bounded loops and stopped (its whole group)
when the test ends. `SourceClient` speaks HTTPS from a chosen loopback source address
(127.0.0.2, 127.0.0.3 ...), so the proxy sees distinct clients.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from tests.conftest import ROOT, free_port

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")
START_TIMEOUT_S = 60.0


def nginx_path() -> str | None:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def openssl_path() -> str | None:
    return shutil.which("openssl")


@dataclass
class Child:
    """A process started in its own session, with its output in a file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def spawn(name: str, command: list[str], log_path: Path, env: dict[str, str] | None = None) -> Child:
    with log_path.open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Child(name, process, log_path)


def wait_until(child: Child, ready: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.process.returncode} before {what}:\n{child.log()}")
        if ready():
            return
        time.sleep(0.1)
    child.stop()
    raise RuntimeError(f"{child.name}: no {what} within {timeout:.0f}s:\n{child.log()}")


def _answers(host: str, port: int, path: str) -> bool:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


# --- the pieces ----------------------------------------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, valid for two days."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl_path() or "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def start_gunicorn(env: dict[str, str], directory: Path, port: int | None = None) -> tuple[Child, int]:
    """`gunicorn "webapp:create_app()"` as production runs it (gunicorn.conf.py included:
    it starts in the repository root), two workers, access log to a file."""
    port = port or free_port()
    command = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", "2",
        "--timeout", "60",
        "--graceful-timeout", "5",
        "--no-control-socket",
        "--access-logfile", str(directory / "access.log"),
        "webapp:create_app()",
    ]  # fmt: skip
    child = spawn("gunicorn", command, directory / "gunicorn.log", env)
    wait_until(child, lambda: _answers("127.0.0.1", port, "/healthz"), "answer on /healthz")
    return child, port


NGINX_CONF = """\
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    # Bodies and responses stay in memory: the workers (nobody, when started by root)
    # could not write temp files under the test's private directory.
    client_body_buffer_size 1m;
    proxy_max_temp_file_size 0;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
        }}
    }}
}}
"""


def start_nginx(upstream: int, directory: Path, cert: Path, key: Path, port: int | None = None) -> tuple[Child, int]:
    """nginx in the foreground with a private prefix and config: TLS on 127.0.0.1:`port`,
    proxying to 127.0.0.1:`upstream`."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, port=port, cert=cert, key=key, upstream=upstream))
    command = [nginx_path() or "nginx", "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")]
    child = spawn("nginx", [*command, "-g", "daemon off;"], directory / "nginx.out")
    wait_until(child, lambda: _tls_answers(port), "TLS answer")
    return child, port


def _tls_answers(port: int) -> bool:
    try:
        return SourceClient("127.0.0.1", port).get("/healthz").status == 200
    except (OSError, http.client.HTTPException):
        return False


# --- a client with a chosen source address -------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass
class SourceClient:
    """HTTPS to the proxy from `source` (a loopback address), keeping cookies, sending
    the Referer a browser would (Flask-WTF checks it over HTTPS)."""

    source: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    def _request(self, method: str, path: str, body: str | None = None, referer: str | None = None) -> Reply:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, timeout=30, context=context, source_address=(self.source, 0)
        )
        headers = {"Host": f"localhost:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if referer:
            headers["Referer"] = referer
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name] = rest.split(";", 1)[0]
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode())
        finally:
            conn.close()

    def get(self, path: str) -> Reply:
        return self._request("GET", path)

    def sign_in(self, email: str, password: str) -> Reply:
        """The login form as a browser submits it: GET for the token, then POST."""
        page = self.get("/organiser/login")
        match = _CSRF.search(page.body)
        assert match, f"no CSRF token on the login page ({page.status})"
        body = urlencode({"email": email, "password": password, "csrf_token": match.group(1)})
        return self._request("POST", "/organiser/login", body, referer=f"{self.origin}/organiser/login")


def source_address_usable(source: str) -> bool:
    """Whether this machine lets a socket bind `source` (all of 127/8 on Linux)."""
    try:
        with socket.socket() as s:
            s.bind((source, 0))
        return True
    except OSError:
        return False
