# Airflow for the local stack (docker-compose.yml): Airflow, the providers, spacex_etl and dbt at
# exactly the versions in uv.lock (the role Airflow's constraints file plays), the dbt project and
# dags/. In compose the DAG runs its tasks in this image (SPACEX_AIRFLOW_EXECUTION_MODE=python);
# see part-2/README.md for the docker/ecs modes.
#
# Build (context = repo root):  docker build -f docker/airflow.Dockerfile -t spacex-airflow:0.1.0 .
#
# Base: the same digest-pinned Python as the job image (docker/etl.Dockerfile), not the official
# apache/airflow image: everything Airflow needs comes from the lock, installed by a pinned uv, so
# the result does not depend on what pip or packages a base happens to ship. The user (uid 50000,
# gid 0) and folders follow the official image's conventions. `make stack-test` passes a local
# stand-in as PYTHON_IMAGE when no registry answers.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# ---------------------------------------------------------------------------------------------
# builder: the locked runtime deps + the `airflow` group (never `dev`) into /opt/airflow/venv.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/airflow/venv
RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /src
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --group airflow --no-dev --no-install-project

COPY README.md ./
COPY etl ./etl
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --group airflow --no-dev --no-editable


# ---------------------------------------------------------------------------------------------
# airflow: the venv, the dbt project and the DAGs, run as the unprivileged `airflow` user.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS airflow

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="spacex-airflow" \
      org.opencontainers.image.description="Airflow 3.3.2 with the spacex_elt DAG, spacex_etl and dbt" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

# Every folder compose mounts a named volume on exists here, owned by `airflow`: Docker copies
# that ownership into an empty volume, so the unprivileged services can write their logs.
# airflow.cfg is empty and read-only: every setting comes from the environment, and Airflow would
# otherwise write its defaults there at start (compose runs the root file system read-only).
RUN useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home \
        --shell /usr/sbin/nologin airflow \
    && install -d -o airflow -g 0 -m 0775 /opt/airflow /opt/airflow/logs /opt/airflow/dags \
        /opt/airflow/spacex-data /opt/airflow/bin \
    && install -d -o airflow -g 0 -m 0700 /opt/airflow/auth \
    && install -m 0644 /dev/null /opt/airflow/airflow.cfg

COPY --from=builder /opt/airflow/venv /opt/airflow/venv
COPY dbt_spacex /opt/airflow/dbt_spacex
COPY dags /opt/airflow/dags
COPY --chmod=0755 docker/airflow-init.sh /opt/airflow/bin/airflow-init.sh
COPY --chmod=0755 docker/refuse-placeholders.sh /opt/airflow/bin/refuse-placeholders.sh

ENV PATH=/opt/airflow/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    SPACEX_DBT_PROJECT_DIR=/opt/airflow/dbt_spacex \
    SPACEX_DATA_DIR=/opt/airflow/spacex-data \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    AIRFLOW__OPENLINEAGE__NAMESPACE=spacex-elt

# The warehouse the tasks run dbt against. dbt reuses a partial-parse state only when the
# profile's connection values (host, port, user, database, schema) are the run's, so the state is
# built with them: docker-compose.yml passes the stack's (PostgreSQL, from .env); no password is
# needed or kept (parsing opens no connection, and dbt does not hash secrets).
ARG SPACEX_WAREHOUSE=duckdb
ARG SPACEX_PG_HOST=127.0.0.1
ARG SPACEX_PG_PORT=5432
ARG SPACEX_PG_DATABASE=spacex
ARG SPACEX_PG_USER=postgres
ARG SPACEX_PG_DBT_USER=

# Build-time artefacts, made with the settings the tasks run with (`dbt parse` needs no
# connection): the dbt manifest astronomer-cosmos renders the dbt task group from (parsing the DAG
# runs no dbt, opens no warehouse) and the partial-parse state every dbt run starts warm from, in
# <project>/target/. What it leaves in the data dir (dbt's log, the run lock) goes: the tasks own it.
RUN spacex-etl transform --command parse \
    && test -s /opt/airflow/dbt_spacex/target/manifest.json \
    && test -s /opt/airflow/dbt_spacex/target/partial_parse.msgpack \
    && find /opt/airflow/spacex-data -mindepth 1 -delete

USER 50000:0
WORKDIR /opt/airflow

# No HEALTHCHECK here: one image serves five roles (api-server, scheduler, dag-processor,
# triggerer, init); docker-compose.yml gives each role its own probe.
HEALTHCHECK NONE

ENTRYPOINT ["airflow"]
CMD ["version"]
