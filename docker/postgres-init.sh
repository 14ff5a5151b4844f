#!/usr/bin/env bash
# Runs once, when the postgres volume is first initialised (/docker-entrypoint-initdb.d):
# one server, two databases with their own owners —
#   AIRFLOW_DB_NAME  (owner AIRFLOW_DB_USER)  Airflow's metadata database
#   SPACEX_PG_DATABASE (owner SPACEX_PG_USER)  the warehouse stand-in for Redshift
# Values are passed as psql variables (:"ident", :'literal'), so they are quoted, never spliced.
set -euo pipefail

for var in AIRFLOW_DB_USER AIRFLOW_DB_PASSWORD AIRFLOW_DB_NAME \
           SPACEX_PG_USER SPACEX_PG_PASSWORD SPACEX_PG_DATABASE; do
    if [[ -z "${!var:-}" ]]; then
        echo "postgres-init: $var is not set (see .env.example)" >&2
        exit 1
    fi
done

create_owned_database() {
    local user=$1 password=$2 database=$3
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        -v user="$user" -v password="$password" -v database="$database" <<'SQL'
select format('create role %I login password %L', :'user', :'password')
where not exists (select from pg_roles where rolname = :'user') \gexec
select format('create database %I owner %I', :'database', :'user')
where not exists (select from pg_database where datname = :'database') \gexec
revoke all on database :"database" from public;
grant connect, create, temporary on database :"database" to :"user";
SQL
}

create_owned_database "$AIRFLOW_DB_USER" "$AIRFLOW_DB_PASSWORD" "$AIRFLOW_DB_NAME"
create_owned_database "$SPACEX_PG_USER" "$SPACEX_PG_PASSWORD" "$SPACEX_PG_DATABASE"
echo "postgres-init: databases $AIRFLOW_DB_NAME and $SPACEX_PG_DATABASE ready"
