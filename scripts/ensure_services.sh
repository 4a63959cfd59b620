#!/usr/bin/env bash
# Make sure what the tests talk to is there: Debian's chromium, nginx and openssl (the
# TLS proxy of the production-shape tests), Pango and the Noto fonts (certificates) with
# poppler-utils (the certificate tests read the PDFs), PostgreSQL and Redis on 127.0.0.1. Installs or starts what is missing when it can; with CI=true, a service
# that stays missing fails the run (conftest.py checks again and refuses to skip).
set -uo pipefail

pg_host=127.0.0.1
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo -n "$@"; else return 1; fi; }

apt_updated=0
apt_install() {
  have apt-get || return 1
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq >/dev/null 2>&1 || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null 2>&1
}

if ! have chromium; then
  echo "Installing Debian's chromium for the browser tests..."
  apt_install chromium || echo "warning: could not install chromium"
fi

# Chinese in screenshots and the language menu needs a CJK font (Persian and Cyrillic
# are covered by the fonts chromium brings).
if ! ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1; then
  echo "Installing Debian's fonts-noto-cjk for the browser tests..."
  apt_install fonts-noto-cjk || echo "warning: could not install fonts-noto-cjk"
fi

# Certificates of attendance (webapp/services/certificates): WeasyPrint lays them out with
# Pango, HarfBuzz and fontconfig, in Noto Serif, Noto Naskh Arabic (fonts-noto-core) and
# Noto Serif CJK (fonts-noto-cjk, above); the tests read them with pdftotext and pdfinfo.
certificate_packages="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-noto-core poppler-utils"
if ! ls /usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf >/dev/null 2>&1 || ! have pdftotext \
  || ! have fc-list || ! ldconfig -p 2>/dev/null | grep -q "libpangoft2-1.0.so.0"; then
  echo "Installing Debian's Pango, Noto fonts and poppler-utils for the certificates..."
  # shellcheck disable=SC2086
  apt_install $certificate_packages || echo "warning: could not install $certificate_packages"
fi

# nginx is only run by the tests themselves (a private config on a free port); the
# package's own service is neither needed nor started here.
nginx_bin() { have nginx || [ -x /usr/sbin/nginx ]; }
if ! nginx_bin || ! have openssl; then
  echo "Installing Debian's nginx and openssl for the production-shape tests..."
  apt_install nginx-light openssl || apt_install nginx openssl || echo "warning: could not install nginx/openssl"
fi

pg_up() { (echo > /dev/tcp/$pg_host/5432) >/dev/null 2>&1; }
redis_up() { (echo > /dev/tcp/127.0.0.1/6379) >/dev/null 2>&1; }

if ! pg_up; then
  if ! have pg_ctlcluster; then
    echo "Installing PostgreSQL..."
    apt_install postgresql || echo "warning: could not install postgresql"
  fi
  if have pg_ctlcluster; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    done
  fi
  for _ in $(seq 1 20); do pg_up && break; sleep 0.5; done
fi

if ! redis_up; then
  if ! have redis-server; then
    echo "Installing Redis..."
    apt_install redis-server || echo "warning: could not install redis-server"
  fi
  if have redis-server; then
    mkdir -p /tmp/rollcall-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/rollcall-redis --logfile /tmp/rollcall-redis/redis.log >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
fi

pg_up || echo "warning: PostgreSQL is not reachable on $pg_host:5432"
redis_up || echo "warning: Redis is not reachable on 127.0.0.1:6379"
exit 0
