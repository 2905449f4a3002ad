"""Every command on every hostile case, each run a child process under resource limits.

The corpus is built by ``tests/hostile/make_corpus.py`` into a temporary folder; each command
(validate text/json/--annotate, mask -o, assign-ids -o, merge) runs on each case *together
with a clean companion file* as ``python -m aftersales_xl.cli`` under ``RLIMIT_AS`` and a 60 s
wall timeout, with its peak memory from ``ru_maxrss``. Every run must: read the file (exit
0/1) or refuse it (exit 2) with one line naming it and saying what to do, as the case expects;
print no traceback; still process the companion; stay within 500 MB (time is recorded, and
only a generous bound is asserted: no tight timings in tests); and leave no planted raw value
(phone, email, ID-card number, name) in its output, any produced file's name or any XML part
of any produced workbook; no produced workbook holds a formula made from input text or a live
link from URL-like text. The figures are printed at the end (``pytest -s``) and quoted in the
README's "Reliability" section.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile.make_corpus import BUILDERS, build_corpus  # noqa: E402
from hostile.runner import BUDGET_MB, COMMANDS, figures, run_matrix  # noqa: E402

CASES = [b.__name__ for b in BUILDERS]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> dict[tuple[str, str], object]:
    work = tmp_path_factory.mktemp("hostile")
    corpus = build_corpus(work / "corpus")
    runs = run_matrix(corpus, work / "runs")
    print("\n" + figures(runs))
    return {(r.case.name, r.command): r for r in runs}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_every_command_on_every_case(matrix, case: str, command: str) -> None:
    run = matrix[(case, command)]
    assert run.problems == [], (run.rc, run.stdout[-2000:], run.stderr[-2000:])
    assert run.max_rss_mb <= BUDGET_MB


def test_refusals_are_the_same_for_every_reading_command(matrix) -> None:
    """A file validate calls unreadable is unreadable for every command, and the other way
    round (a copy that cannot be written is not a file that could not be read)."""
    mixed = []
    for case in CASES:
        json_run = matrix[(case, "validate-json")]
        if json_run.case.expect != "either":
            continue
        outcomes = {
            cmd: matrix[(case, cmd)].outcome for cmd in ("validate", "validate-json", "merge")
        }
        if len(set(outcomes.values())) > 1:
            mixed.append((case, outcomes))
    assert mixed == []
