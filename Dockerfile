# One image for every process of the suite: `dcs api`, `dcs worker`, `dcs gateway`, `dcs telegram`
# (docker-compose.yml picks the command and the health check of each).
#
# build: a virtualenv with the runtime dependencies only (no [dev] extras: no pytest, ruff, mypy)
# and the suite installed in editable mode from /app, so the Alembic scripts stay next to the
# packages (storage/engine.py finds them there).
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY domain ./domain
COPY storage ./storage
COPY workflows ./workflows
COPY activities ./activities
COPY gateway ./gateway
COPY approvals ./approvals
COPY api ./api
COPY simulator ./simulator
COPY dcs ./dcs
RUN pip install -e . && python -m compileall -q /app

# runtime: the same paths, a non-root user (a writable home for library caches), nothing else
FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 DATA_DIR=/app/data
RUN groupadd --system --gid 10001 dcs \
    && useradd --system --uid 10001 --gid dcs --create-home --home-dir /home/dcs \
       --shell /usr/sbin/nologin dcs
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
RUN mkdir -p /app/data && chown dcs:dcs /app/data
WORKDIR /app
USER dcs:dcs
# the API's port; the worker's and gateway's metrics ports are set by METRICS_PORT_* (0: off)
EXPOSE 8080
# health checks need no curl: `python -c "import urllib.request; urllib.request.urlopen(...)"`
# against /health/ready (api) or /metrics (worker, gateway): see docker-compose.yml
CMD ["dcs", "api"]
