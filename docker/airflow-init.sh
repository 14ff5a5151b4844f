#!/usr/bin/env bash
# One-shot init for the compose stack (service `airflow-init`): migrate the metadata database and
# write the login for Airflow's simple auth manager from .env. Safe to run again.
set -euo pipefail

: "${AIRFLOW_ADMIN_USER:?set AIRFLOW_ADMIN_USER in .env (see .env.example)}"
: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in .env (see .env.example)}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?is set by docker-compose.yml}"

# .env.example's placeholders are not secrets: refuse to start a stack that still uses one (or a
# short value: docker/refuse-placeholders.sh, the rule every first reader of a secret applies),
# and one whose connections and variables would be stored unencrypted.
for var in AIRFLOW_ADMIN_PASSWORD AIRFLOW__CORE__FERNET_KEY AIRFLOW__API_AUTH__JWT_SECRET \
           AIRFLOW__API__SECRET_KEY; do
    sh "$(dirname "$0")/refuse-placeholders.sh" "$var"
done
if [[ -z ${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-} || $AIRFLOW__DATABASE__SQL_ALCHEMY_CONN == *change-me* ]]; then
    echo "airflow-init: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is empty or holds the placeholder" \
        "'change-me' - set AIRFLOW_DB_PASSWORD in .env" >&2
    exit 1
fi

airflow db migrate

# The simple auth manager keeps {"user": "password"} in this file and generates a random password
# for users missing from it; writing it here makes the login the one in .env.
python - <<'PY'
import json
import os
import tempfile

path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
users = {os.environ["AIRFLOW_ADMIN_USER"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
with os.fdopen(fd, "w") as f:
    json.dump(users, f)
os.replace(tmp, path)  # mkstemp creates it 0600; replace is atomic
PY

echo "airflow-init: metadata database migrated; login user '${AIRFLOW_ADMIN_USER}' written"
