"""The small shared pieces every layer uses: atomic result files, CSV rows, journal statuses,
and the two stop policies."""
import json
import os
import signal

import pytest

from nas.run.signals import EXIT_INTERRUPTED, Interrupted, StopRequest, interrupts_raise
from nas.search.journal import Journal
from nas.search.rows import FINAL, TRAINED, Status
from sharesnet.files import atomic_write, csv_text, replace_atomically


def test_an_atomic_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "sub" / "a.json"
    atomic_write(path, "one")
    atomic_write(path, "two")
    assert path.read_text() == "two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write(path, "old")

    def half(fh):
        fh.write(b"ne")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(path, half)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_csv_text_columns():
    rows = [{"a": 1, "b": 2}, {"a": 3, "c": 4}]
    assert csv_text(rows).splitlines() == ["a,b,c", "1,2,", "3,,4"]  # every key met, in order
    assert csv_text(rows, ["c", "a"]).splitlines() == ["c,a", ",1", "4,3"]  # chosen columns, others left out
    assert csv_text([]) == ""


def test_a_status_read_back_from_the_journal_is_its_member(tmp_path):
    journal = Journal(tmp_path)
    journal.add({"trial_id": "t1", "key": "k", "arch_id": "x", "status": Status.OK, "val_acc": 0.5})
    journal.add({"trial_id": "t2", "key": "k2", "arch_id": "y", "status": Status.EARLY_STOPPED})
    line = json.loads((tmp_path / "trials.jsonl").read_text().splitlines()[0])
    assert line["status"] == "ok"  # plain JSON on disk
    again = Journal(tmp_path)
    assert again.rows[0]["status"] == Status.OK
    assert [r["trial_id"] for r in again.candidates()] == ["t1"]
    assert again.trained() == 2 and again.count(Status.EARLY_STOPPED) == 1
    assert set(again.finished()) == {"k"}  # an early stop may go differently: not reused
    assert "ok" in (tmp_path / "trials.csv").read_text()


def test_status_groups():
    assert FINAL < TRAINED
    assert Status.REEVAL not in TRAINED and Status.REPEAT not in TRAINED  # outside the budget


def test_interrupts_raise_raises_where_the_program_is_and_restores_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as e:
        with interrupts_raise():
            os.kill(os.getpid(), signal.SIGTERM)
    assert e.value.exit_code == EXIT_INTERRUPTED[signal.SIGTERM] == 143
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_stop_request_asks_first_and_quits_on_the_second_signal():
    said, before = [], signal.getsignal(signal.SIGINT)
    with StopRequest(said.append) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested and stop.signum == signal.SIGINT
        assert "SIGINT received: stopping" in said[0]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
