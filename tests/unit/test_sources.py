"""What the extractor says went wrong on the wire: the words of its retry lines and of its
one-line error (the HTTP behaviour itself runs against a real server in
tests/integration/test_http_extract.py)."""

from __future__ import annotations

import socket

import pytest
import requests
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from spacex_etl.sources import _cause, _wire_cause

URL = "https://api.spacexdata.com/v4/launches"
REFUSED = NewConnectionError(
    None, "Failed to establish a new connection: [Errno 111] Connection refused"
)
UNREACHABLE = NewConnectionError(
    None, "Failed to establish a new connection: [Errno 101] Network is unreachable"
)
NO_HOST = NameResolutionError(
    "api.spacexdata.com", None, socket.gaierror(-2, "Name or service not known")
)
READ_TIMEOUT = ReadTimeoutError(None, URL, "Read timed out.")
CLOSED = ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))


def gave_up(reason: Exception) -> requests.exceptions.ConnectionError:
    """What requests raises once urllib3's retries are spent on `reason`."""
    return requests.exceptions.ConnectionError(MaxRetryError(None, URL, reason))


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (requests.exceptions.ConnectTimeout(), "connect timeout"),
        (requests.exceptions.ReadTimeout(), "read timeout"),
        (requests.exceptions.ChunkedEncodingError(), "connection dropped mid-body"),
        (requests.exceptions.SSLError(), "TLS verification failed"),
        (gave_up(READ_TIMEOUT), "read timeout"),
        (gave_up(CLOSED), "connection closed by the server"),
        (gave_up(NO_HOST), "host name not found"),
        (gave_up(REFUSED), "connection refused"),
        (gave_up(UNREACHABLE), "cannot connect"),
        (requests.exceptions.ConnectionError(CLOSED), "connection closed by the server"),
        (
            requests.exceptions.ConnectionError("Connection broken: IncompleteRead"),
            "connection dropped mid-body",
        ),
        (requests.exceptions.ConnectionError("something else"), "cannot connect"),
        (requests.exceptions.TooManyRedirects(), "TooManyRedirects"),
    ],
)
def test_the_error_line_names_the_cause_in_words(exc: BaseException, words: str) -> None:
    assert _cause(exc) == words


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (READ_TIMEOUT, "read timeout"),
        (CLOSED, "connection closed by the server"),
        (REFUSED, "connection refused"),
        (UNREACHABLE, "cannot connect"),
        (None, "NoneType"),
    ],
)
def test_a_retry_line_names_the_cause_in_words(error: BaseException | None, words: str) -> None:
    assert _wire_cause(error) == words
