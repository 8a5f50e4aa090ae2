# One image for every process of the suite: `dcs api`, `dcs worker`, `dcs gateway`.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
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
RUN pip install --no-cache-dir -e .
USER nobody
CMD ["dcs", "api"]
