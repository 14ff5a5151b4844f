# The spacex-etl job image: the `spacex-etl` CLI (extract → lake → load → dbt build) + the dbt
# project. One process per container run; ECS runs it as a task, Airflow as a DockerOperator/ECS
# task, and `docker run <image> run` runs the pipeline on the bundled snapshot into /data.
#
# Build (context = repo root):  docker build -f docker/etl.Dockerfile -t spacex-etl:0.1.0 .
#
# Base image: PYTHON_IMAGE, by default pinned by tag and by the digest of its multi-arch index
# (linux/amd64 + arm64). `make stack-test` passes a locally built stand-in instead when no
# registry answers (docker/standins/). Re-check or bump the digest with:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# ---------------------------------------------------------------------------------------------
# builder: resolve nothing — install exactly uv.lock into /app/.venv with uv.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# uv pinned to the version that wrote uv.lock (tests/infra/test_docker.py checks they agree).
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /src

# Dependencies first (their own layer: it changes only when the lock changes) …
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --no-dev --no-install-project

# … then the package itself (README.md is its long description), installed as a regular
# (non-editable) wheel into the same venv.
COPY README.md ./
COPY etl ./etl
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --no-dev --no-editable

# ---------------------------------------------------------------------------------------------
# runtime: the venv + the dbt project on a clean base; no uv, no compiler, no sources, no secrets.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="spacex-etl" \
      org.opencontainers.image.description="SpaceX launches ELT job: extract, raw lake, load, dbt build, answers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm"

# A fixed, unprivileged uid/gid (ECS/Kubernetes can enforce runAsNonRoot on a numeric user).
RUN groupadd --system --gid 10001 spacex \
    && useradd --system --uid 10001 --gid spacex --home-dir /home/spacex --create-home \
       --shell /usr/sbin/nologin spacex \
    && install -d -o spacex -g spacex -m 0750 /data

# The venv is root-owned and read-only for the job; only /data (lake, DuckDB file, dbt output)
# is writable. dbt writes its target/ and logs/ under SPACEX_DATA_DIR, never into the project.
COPY --from=builder /app/.venv /app/.venv
COPY dbt_spacex /app/dbt_spacex

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/spacex \
    SPACEX_DATA_DIR=/data \
    SPACEX_DBT_PROJECT_DIR=/app/dbt_spacex \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false

# The dbt manifest and partial-parse state, made with the settings the job runs with (`dbt parse`
# needs no connection): every run starts dbt warm from /app/dbt_spacex/target/ (read-only).
# What the parse leaves in /data (dbt's logs, the CLI's lock file) is root's: removed, so the job
# user finds /data empty.
RUN spacex-etl transform --command parse \
    && test -s /app/dbt_spacex/target/partial_parse.msgpack \
    && rm -rf /data/dbt /data/spacex-etl.lock

USER 10001:10001
WORKDIR /data

# A batch job, not a server: it exits 0/1 and the exit code is its health (ECS task state,
# Airflow task state). A HEALTHCHECK would have nothing to probe between start and exit.
HEALTHCHECK NONE

ENTRYPOINT ["spacex-etl"]
CMD ["run"]
