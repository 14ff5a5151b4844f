"""The exception hierarchy. Every expected failure is a `SpacexEtlError` whose message is one
line naming the cause (the file, URL, record or table) and, where useful, what to do about it."""

from __future__ import annotations


class SpacexEtlError(Exception):
    """Base class: an expected failure that the CLI prints as one line and exits 1."""

    kind = "error"
    retryable = True
    """False when the same call would fail the same way again (an invalid setting, a host name
    that does not resolve, an HTTP answer retrying does not change): the DAG's retry policy
    fails such a task at once instead of retrying it."""

    def __str__(self) -> str:
        return " ".join(str(self.args[0]).split()) if self.args else self.kind


class ConfigError(SpacexEtlError):
    """A setting is missing or invalid."""

    kind = "config"
    retryable = False


class ExtractError(SpacexEtlError):
    """The source could not be read (unreachable URL, missing file, HTTP error)."""

    kind = "extract"


class SourceRefusedError(ExtractError):
    """The source cannot be read this way, on any attempt: its host name does not resolve, TLS
    fails, or it answered an HTTP status the job does not retry (4xx other than 429)."""

    retryable = False


class LakeError(SpacexEtlError):
    """The lake refused an operation (object exists with other bytes, missing object, access)."""

    kind = "lake"


class InputFormatError(SpacexEtlError):
    """A whole file is unusable: not JSON, truncated, or not an array of records."""

    kind = "input"


class LoadError(SpacexEtlError):
    """The warehouse load failed; the transaction was rolled back."""

    kind = "load"


class ConnectError(LoadError):
    """The warehouse could not be reached (so the attempt cannot be recorded in it either)."""


class TransformError(SpacexEtlError):
    """dbt failed (a model error or a failing data test)."""

    kind = "transform"


class ContractError(SpacexEtlError):
    """The input breaks the data contract (a rule rejects most records, an empty or shrunken
    extract, a raw object changed after landing): refused, nothing loaded, evidence kept."""

    kind = "contract"


class AnomalyError(SpacexEtlError):
    """An anomaly check configured to fail (`SPACEX_MONITOR_FAIL_ON`) flagged the run: the data
    is loaded, but someone should look before trusting it."""

    kind = "anomaly"


class BusyError(SpacexEtlError):
    """Another `spacex-etl` process is working on the same data dir."""

    kind = "busy"
