#!/usr/bin/env bash
# Runs once, when the postgres volume is first initialised (/docker-entrypoint-initdb.d):
# one server, two databases —
#   AIRFLOW_DB_NAME  (owner AIRFLOW_DB_USER)  Airflow's metadata database
#   SPACEX_PG_DATABASE (owner: the admin)     the warehouse stand-in for Redshift, with the same
#     two users as production (etl/spacex_etl/warehouse/roles.sql, neither a superuser):
#     SPACEX_PG_USER (loader: the raw schema) and SPACEX_PG_DBT_USER (transformer: dbt's schema)
# Values are passed as psql variables (:"ident", :'literal'), so they are quoted, never spliced.
set -euo pipefail

for var in AIRFLOW_DB_USER AIRFLOW_DB_PASSWORD AIRFLOW_DB_NAME \
           SPACEX_PG_USER SPACEX_PG_PASSWORD SPACEX_PG_DATABASE \
           SPACEX_PG_DBT_USER SPACEX_PG_DBT_PASSWORD; do
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
admin=${POSTGRES_USER:-postgres}
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$admin" --dbname postgres \
    -v database="$SPACEX_PG_DATABASE" -v admin="$admin" <<'SQL'
select format('create database %I owner %I', :'database', :'admin')
where not exists (select from pg_database where datname = :'database') \gexec
SQL
# The versioned bootstrap an admin runs on Redshift too (roles_redshift.sql), then passwords.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$admin" --dbname "$SPACEX_PG_DATABASE" \
    -v loader="$SPACEX_PG_USER" -v transformer="$SPACEX_PG_DBT_USER" \
    -v raw_schema="${SPACEX_RAW_SCHEMA:-spacex_raw}" -v dbt_schema="${SPACEX_DBT_SCHEMA:-spacex}" \
    -v database="$SPACEX_PG_DATABASE" -f "${ROLES_SQL:-/spacex/roles.sql}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$admin" --dbname postgres \
    -v loader="$SPACEX_PG_USER" -v loader_password="$SPACEX_PG_PASSWORD" \
    -v transformer="$SPACEX_PG_DBT_USER" -v transformer_password="$SPACEX_PG_DBT_PASSWORD" <<'SQL'
alter role :"loader" password :'loader_password';
alter role :"transformer" password :'transformer_password';
SQL
echo "postgres-init: databases $AIRFLOW_DB_NAME and $SPACEX_PG_DATABASE ready" \
    "(warehouse users $SPACEX_PG_USER, $SPACEX_PG_DBT_USER)"
