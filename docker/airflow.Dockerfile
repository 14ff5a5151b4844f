# syntax=docker/dockerfile:1.7
# Airflow for the local stack (docker-compose.yml): the official Airflow image at the version in
# uv.lock, plus exactly the locked providers, the spacex_etl package, the dbt project and dags/.
# In compose the DAG runs its tasks in this image (SPACEX_AIRFLOW_EXECUTION_MODE=python), so no
# Docker socket is needed; see part-2/README.md for the docker/ecs modes.
#
# Build (context = repo root):  docker build -f docker/airflow.Dockerfile -t spacex-airflow:0.1.0 .
#
# Why the *slim* variant of the official image: the full image preinstalls ~60 providers whose
# dependencies uv.lock does not cover; installing the lock over them can silently break them.
# Slim ships Airflow core only, and the lock (the role Airflow's constraints file plays) adds
# the rest — the same versions the tests run against.
# Digests: could not be resolved here (no Docker engine). Fill in with
#   docker buildx imagetools inspect apache/airflow:slim-3.3.2-python3.11
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm   (see docker/etl.Dockerfile)

# ---------------------------------------------------------------------------------------------
# lock-export: turn uv.lock into a hash-pinned requirements file + build the package wheel.
# ---------------------------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS lock-export

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY etl ./etl
# Runtime deps + the `airflow` group (Airflow, providers), never `dev`; the project itself goes
# in as a wheel (--no-emit-project) so the requirements stay hash-checked.
RUN uv export --frozen --no-default-groups --group airflow --no-emit-project \
        --format requirements-txt --output-file /dist/requirements.txt \
    && uv build --wheel --out-dir /dist

# ---------------------------------------------------------------------------------------------
# airflow: the official image, running as its unprivileged `airflow` user (uid 50000, gid 0).
# ---------------------------------------------------------------------------------------------
FROM apache/airflow:slim-3.3.2-python3.11

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="spacex-airflow" \
      org.opencontainers.image.description="Airflow 3.3.2 with the spacex_elt DAG, spacex_etl and dbt" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/apache/airflow:slim-3.3.2-python3.11"

# The requirements and wheel are bind-mounted from the export stage: they never become a layer.
RUN --mount=type=bind,from=lock-export,source=/dist,target=/tmp/dist \
    pip install --no-cache-dir --require-hashes -r /tmp/dist/requirements.txt \
    && pip install --no-cache-dir --no-deps /tmp/dist/spacex_elt-${VERSION}-py3-none-any.whl

COPY --chown=airflow:0 dbt_spacex /opt/airflow/dbt_spacex
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 --chmod=0755 docker/airflow-init.sh /opt/airflow/bin/airflow-init.sh

# Folders that compose mounts named volumes on: created here, owned by `airflow`, so the volumes
# start out writable for the unprivileged user (Docker copies ownership into an empty volume).
RUN mkdir -p /opt/airflow/auth /opt/airflow/spacex-data \
    && chmod 0700 /opt/airflow/auth

ENV AIRFLOW__CORE__LOAD_EXAMPLES=False \
    SPACEX_DBT_PROJECT_DIR=/opt/airflow/dbt_spacex \
    SPACEX_DATA_DIR=/opt/airflow/spacex-data \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false

# No HEALTHCHECK here: one image serves five roles (api-server, scheduler, dag-processor,
# triggerer, init); docker-compose.yml gives each role its own probe.
