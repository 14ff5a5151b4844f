#!/usr/bin/env bash
# Local Airflow for this repo: `airflow standalone` (API server + UI, scheduler, DAG processor,
# triggerer) with SQLite metadata in .airflow/, this repo's dags/ and the pipeline's embedded
# default (local lake + DuckDB file in .spacex/). Used by `make airflow`; Ctrl-C stops it.
#
# Environment (all optional):
#   AIRFLOW_PORT   UI/API port (default 8080)
#   AIRFLOW_HOME   metadata, logs, password file (default <repo>/.airflow)
#   RUN            how to run commands (default: uv run --no-sync)
#   SPACEX_*       passed through to the tasks (e.g. SPACEX_WAREHOUSE=postgres)
#   OPENLINEAGE_URL  send lineage to a Marquez-style HTTP backend (e.g. http://127.0.0.1:5000)
#                  instead of the default file $SPACEX_DATA_DIR/lineage/openlineage.jsonl
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
port="${AIRFLOW_PORT:-8080}"
run="${RUN:-uv run --no-sync}"
case "$port" in
  8793 | 8794) echo "AIRFLOW_PORT=$port is taken by Airflow's own log servers; pick another" >&2; exit 2 ;;
esac

export AIRFLOW_HOME="${AIRFLOW_HOME:-$repo/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$repo/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$port"
# Tasks report to the API server: it must follow the port (the default assumes 8080).
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$port/execution/"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
export SPACEX_DATA_DIR="${SPACEX_DATA_DIR:-$repo/.spacex}"
# Cosmos: no usage telemetry (it calls an external host), orjson for the dbt manifest.
export AIRFLOW__COSMOS__ENABLE_TELEMETRY="${AIRFLOW__COSMOS__ENABLE_TELEMETRY:-False}"
export AIRFLOW__COSMOS__ENABLE_ORJSON_PARSER="${AIRFLOW__COSMOS__ENABLE_ORJSON_PARSER:-True}"
# OpenLineage: a JSON-lines file under the data dir, unless OPENLINEAGE_URL names an HTTP
# backend (the OpenLineage client then sends there) or a transport is configured explicitly.
export AIRFLOW__OPENLINEAGE__NAMESPACE="${AIRFLOW__OPENLINEAGE__NAMESPACE:-spacex-elt}"
lineage_file="$SPACEX_DATA_DIR/lineage/openlineage.jsonl"
if [[ -z "${OPENLINEAGE_URL:-}" && -z "${AIRFLOW__OPENLINEAGE__TRANSPORT:-}" ]]; then
  mkdir -p "$(dirname "$lineage_file")"
  export AIRFLOW__OPENLINEAGE__TRANSPORT="{\"type\": \"file\", \"log_file_path\": \"$lineage_file\", \"append\": true}"
fi

mkdir -p "$AIRFLOW_HOME"
# The dbt manifest Cosmos renders the dbt task group from, and the partial-parse state dbt runs
# start from (`spacex-etl transform --command parse`: the job's settings, no warehouse needed);
# rebuilt when a model, test, macro or the project file is newer than it.
manifest="$repo/dbt_spacex/target/manifest.json"
if [[ ! -f "$manifest" ]] || [[ -n "$(find "$repo/dbt_spacex" -newer "$manifest" \( -name '*.sql' -o -name '*.yml' \) -not -path '*/target/*' -print -quit)" ]]; then
  echo "building the dbt manifest for the DAG ($manifest)"
  # shellcheck disable=SC2086 # $run is a command line (e.g. "uv run --no-sync")
  (cd "$repo" && $run spacex-etl transform --command parse)
fi
passwords="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
url="http://127.0.0.1:$port"

cat <<EOF
Airflow standalone for spacex-elt
  UI        $url   (DAG: spacex_elt — unpause it, or press Trigger)
  login     user admin; the password is generated on first start into
            $passwords
  home      $AIRFLOW_HOME (SQLite metadata, logs)
  data      $SPACEX_DATA_DIR (lake + DuckDB warehouse; reports in lake/reports/)
  lineage   ${OPENLINEAGE_URL:-$lineage_file}
EOF

# Print the login once the API server answers (in the background; standalone stays in front).
(
  for _ in $(seq 1 120); do
    if curl -fsS "$url/api/v2/monitor/health" >/dev/null 2>&1; then
      echo
      echo ">>> Airflow is up: $url  login admin / $(sed -E 's/.*"admin": *"([^"]*)".*/\1/' "$passwords" 2>/dev/null)"
      echo ">>> (password file: $passwords)"
      exit 0
    fi
    sleep 1
  done
  echo ">>> Airflow did not answer on $url/api/v2/monitor/health within 120 s" >&2
) &

cd "$repo"
# shellcheck disable=SC2086 # $run is a command line (e.g. "uv run --no-sync")
exec $run airflow standalone
