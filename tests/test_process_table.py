"""The node's process table: admission and history bounds agree, and no result is forgotten before
someone read it (issue 10, item 6)."""
from __future__ import annotations

import json

import pytest

from qnodeos.cli import main
from qnodeos.errors import QNodeOSError

from os_helpers import X_MEASURE, make_node


def test_every_result_of_a_full_table_survives_the_run():
    node = make_node("ion")
    pids = [node.submit(X_MEASURE) for _ in range(node.max_processes)]
    node.run()
    assert [node.result(pid).registers for pid in pids] == [{"M0": 1}] * node.max_processes


def test_unread_results_are_kept_and_admission_says_why_it_refuses():
    node = make_node("ion", max_processes=4, finished_history=6)
    first = [node.submit(X_MEASURE) for _ in range(4)]
    node.run()
    second = [node.submit(X_MEASURE) for _ in range(2)]  # 4 unread + 2 live = 6: the table is full
    with pytest.raises(QNodeOSError, match=r"4 finished processes whose results were not read"):
        node.submit(X_MEASURE)
    node.run()
    assert all(node.result(pid).ok for pid in first + second)  # nothing was evicted unread
    more = [node.submit(X_MEASURE) for _ in range(4)]  # reading made room: old read ones go first
    node.run()
    assert all(node.result(pid).ok for pid in more)
    with pytest.raises(QNodeOSError, match=r"process 1 .*finished and was read; the node keeps"):
        node.result(first[0])


def test_history_smaller_than_the_admission_bound_is_refused():
    with pytest.raises(ValueError, match="finished_history"):
        make_node("ion", max_processes=10, finished_history=5)


def test_persistent_processes_hand_over_their_results_and_never_block_admission():
    node = make_node("ion", max_processes=2, finished_history=2)
    for i in range(10):  # an application host opens and closes processes for ever
        pid = node.open_process(f"host{i}")
        node.push_subroutine(pid, X_MEASURE)
        node.run()
        node.close_process(pid)
    assert len(list(node.processes())) <= 2


@pytest.mark.parametrize("count", [1001, 1024])
def test_cli_processes_up_to_the_limit_report_every_result(count, tmp_path, capsys):
    path = tmp_path / "x.nqasm"
    path.write_text(X_MEASURE)
    code = main(["run", str(path), "--driver", "mock-trapped-ion", "--preset", "ideal",
                 "--processes", str(count), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert len(out["results"]) == count and {r["registers"]["M0"] for r in out["results"]} == {1}


def test_cli_refuses_more_processes_than_a_node_admits_before_running(tmp_path, capsys):
    path = tmp_path / "x.nqasm"
    path.write_text(X_MEASURE)
    code = main(["run", str(path), "--driver", "mock-trapped-ion", "--processes", "1025"])
    assert code == 2
    assert "--processes 1025" in capsys.readouterr().err
