"""`python -m tests.aws.job <calls.jsonl> <spacex-etl arguments…>`: the job's CLI, unchanged,
with every AWS call it makes appended to calls.jsonl (see `calls.install_recorder`)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.aws.calls import install_recorder


def main() -> None:
    install_recorder(Path(sys.argv[1]))
    from spacex_etl.cli import main as cli

    sys.argv = ["spacex-etl", *sys.argv[2:]]
    cli()


if __name__ == "__main__":
    main()
