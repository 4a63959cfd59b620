# One image for web, worker and beat; docker-compose.yml picks the command. gunicorn.conf.py
# (read from WORKDIR) keeps tokens and email addresses out of the access log.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ROLLCALL_ENV=production
WORKDIR /app
# Certificates of attendance are laid out by WeasyPrint with Pango, HarfBuzz and fontconfig,
# in the Noto fonts (Latin, Cyrillic, Arabic script, Chinese).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
       fontconfig fonts-noto-core fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY config.py gunicorn.conf.py ./
COPY webapp webapp
COPY worker worker
COPY templates templates
COPY static static
COPY migrations migrations
COPY translations translations
# Compiled catalogues are built here, never committed.
RUN pybabel compile -d translations
RUN useradd --system --uid 1000 rollcall && mkdir -p /app/instance && chown rollcall /app/instance
USER rollcall
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-", "webapp:create_app()"]
