"""WorkQueue semantics (client-go's): dedup, one in flight per key, delayed adds."""

from __future__ import annotations

from reconcilekit._engine import WorkQueue


def test_add_dedups_waiting_keys_and_keeps_fifo_order() -> None:
    q = WorkQueue()
    for key in ["a", "b", "a", "c", "b"]:
        q.add(key)
    assert len(q) == 3
    assert q.adds == 3
    assert [q.get(), q.get(), q.get(), q.get()] == ["a", "b", "c", None]


def test_key_added_while_processing_is_requeued_at_done_only() -> None:
    q = WorkQueue()
    q.add("a")
    assert q.get() == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0  # not handed to a second worker while in flight
    assert q.get() is None
    q.done("a")
    assert q.get() == "a"
    q.done("a")
    assert q.idle()


def test_delayed_adds_keep_the_earliest_due_and_skip_stale_entries() -> None:
    q = WorkQueue()
    assert q.add_at("a", 10.0)
    assert not q.add_at("a", 20.0)  # later: ignored
    assert q.add_at("a", 5.0)  # earlier: wins
    q.add_at("b", 7.0)
    assert q.next_due() == 5.0
    assert q.promote(4.9) == 0
    assert q.promote(7.0) == 2
    assert q.next_due() is None  # the stale a@10 entry is skipped
    assert [q.get(), q.get()] == ["a", "b"]


def test_discard_drops_waiting_and_delayed_keys() -> None:
    q = WorkQueue()
    q.add("a")
    q.add_at("b", 1.0)
    q.discard("a")
    q.discard("b")
    assert q.get() is None
    assert q.promote(100.0) == 0
    assert q.idle()


def test_on_ready_fires_when_a_key_becomes_ready() -> None:
    fired: list[int] = []
    q = WorkQueue(on_ready=lambda: fired.append(1))
    q.add("a")
    q.add("a")
    assert len(fired) == 1
    q.get()
    q.add("a")  # in flight: ready only at done
    assert len(fired) == 1
    q.done("a")
    assert len(fired) == 2
