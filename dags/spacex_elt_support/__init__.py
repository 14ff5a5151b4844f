"""Support code for `dags/spacex_elt.py`: configuration, task factory, steps and alerts.

Kept beside the DAG file (Airflow puts the dags folder on `sys.path`) so that the DAG file
only sequences tasks. Importing this package is cheap: the pipeline (`spacex_etl`), dbt and
the provider operators are imported only when a task runs or a mode needs them.
"""
