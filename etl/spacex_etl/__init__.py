"""spacex-elt: extract SpaceX launches, land them raw, load a warehouse, transform with dbt."""

__version__ = "0.1.0"
