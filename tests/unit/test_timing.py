"""The per-folder time table `make test` prints after pytest (tests/timing.py)."""

from __future__ import annotations

from tests.timing import per_folder, table

REPORT = """<testsuites><testsuite name="pytest">
<testcase classname="tests.unit.test_parts" name="a" time="0.5"/>
<testcase classname="tests.unit.test_parts" name="b" time="1.5"/>
<testcase classname="tests.dags.test_dag_run.TestRun" name="c" time="30.25"/>
<testcase classname="tests.reliability.test_faults" name="d[x]" time="4"/>
</testsuite></testsuites>"""


def test_times_add_up_per_test_folder_classes_included() -> None:
    folders = per_folder(REPORT)
    assert folders == {
        "tests/unit": (2, 2.0),
        "tests/dags": (1, 30.25),
        "tests/reliability": (1, 4.0),
    }


def test_the_table_lists_the_slowest_folder_first_and_the_total_last() -> None:
    rows = table(REPORT).splitlines()
    assert rows[2].startswith("| `tests/dags` | 1 |")
    assert rows[-1] == "| all | 4 | 36 s |"
