"""The deployment files say what the README promises: docker-compose.yml puts a TLS proxy
(Caddy, deploy/Caddyfile) in front of web, publishes only the proxy, and has web trust
exactly that one hop. (No Docker engine runs here: the files are read, not run.)"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.conftest import ROOT


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_puts_a_tls_proxy_in_front_of_web() -> None:
    services = _compose()["services"]
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:")
    published = {str(port).split(":")[-2] + ":" + str(port).split(":")[-1] for port in proxy["ports"]}
    assert {"80:80", "443:443"} <= published
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert proxy["environment"]["DOMAIN"] == "${DOMAIN:-localhost}"
    assert "web" in proxy["depends_on"]


def test_web_is_reached_only_through_the_proxy_and_trusts_one_hop() -> None:
    services = _compose()["services"]
    web = services["web"]
    assert "ports" not in web, "web must not be published: clients would bypass the proxy and forge X-Forwarded-For"
    assert web["environment"]["TRUSTED_PROXY_HOPS"] == 1
    assert web["environment"]["ROLLCALL_ENV"] == "production"
    assert web["environment"]["PUBLIC_BASE_URL"].startswith("${PUBLIC_BASE_URL:-https://")
    # Nothing but the proxy (and the mail catcher's page, on this host only) is published.
    for name, service in services.items():
        for port in service.get("ports", []):
            assert name == "proxy" or str(port).startswith("127.0.0.1:"), (name, port)


def test_caddyfile_serves_the_domain_or_localhost_and_proxies_to_web() -> None:
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    lines = [line.strip() for line in caddyfile.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert lines[0] == "{$DOMAIN:localhost} {"
    assert "reverse_proxy web:8000" in lines
    # No compression (BREACH) and no access log (it would record tokens).
    assert not any(line.startswith(("encode", "log")) for line in lines)
    assert caddyfile.count("{") == caddyfile.count("}")


def test_the_image_ships_the_access_log_filter() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY .*gunicorn\.conf\.py", dockerfile, re.MULTILINE)
