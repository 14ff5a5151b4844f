#!/bin/sh
# Refuse to start with a secret that is a placeholder: run by the first service that reads each
# secret, before it reads it (postgres, minio, minio-init, airflow-init).
#   refuse-placeholders.sh VAR... [-- command args...]
# Each VAR must be set, at least 16 characters long, and not an example value (change-me,
# changeme, placeholder, password, secret, admin, minioadmin). Then the command, if any, runs in
# this process (exec), so the service's own entrypoint keeps PID 1's role.
set -eu

MIN_LENGTH=16
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    name=$1
    shift
    eval "value=\${$name:-}"
    lowered=$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')
    case $lowered in
        "")
            echo "refuse-placeholders: $name is empty - set it in .env (see .env.example)" >&2
            exit 1 ;;
        *change-me* | *changeme* | *placeholder* | password | secret | admin | minioadmin)
            echo "refuse-placeholders: $name still holds a placeholder - set it in .env" >&2
            exit 1 ;;
    esac
    if [ "${#value}" -lt "$MIN_LENGTH" ]; then
        echo "refuse-placeholders: $name is shorter than $MIN_LENGTH characters - set a" \
            "long random value in .env (e.g. openssl rand -hex 16)" >&2
        exit 1
    fi
done
[ "$#" -gt 0 ] && shift  # the "--"
[ "$#" -eq 0 ] || exec "$@"
