"""The garbage collector's scopes (aggregator.collector): inside ``earlier_objects_left_alone``
collections leave the objects that existed before alone, and nothing is kept for good; a refresh
runs inside it and leaves the collector as it found it."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

import aggregator.pipeline as pipeline
from aggregator import collector
from tests.test_lifecycle import World


class Node:
    pass


def cyclic_garbage_to_be() -> tuple[Node, weakref.ref]:
    """An object in a reference cycle (only the cyclic collector frees it once dropped) and a weak reference to it."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    assert gc.get_freeze_count() == 0, "a scope left objects frozen"
    if not was:
        gc.disable()


def test_cyclic_garbage_of_earlier_objects_waits_until_the_scope_is_left():
    node, ref = cyclic_garbage_to_be()
    with collector.earlier_objects_left_alone():
        del node
        gc.collect()
        assert ref() is not None  # made before the scope: not walked inside it
    gc.collect()
    assert ref() is None  # and not kept for good


def test_cyclic_garbage_made_inside_the_scope_is_collected_inside_it():
    with collector.earlier_objects_left_alone():
        node, ref = cyclic_garbage_to_be()
        del node
        gc.collect()
        assert ref() is None


def test_nested_scopes_unfreeze_when_the_outermost_is_left():
    with collector.earlier_objects_left_alone():
        with collector.earlier_objects_left_alone():
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_overlapping_scopes_in_two_threads_unfreeze_when_the_last_leaves():
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with collector.earlier_objects_left_alone():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    with collector.earlier_objects_left_alone():
        thread.start()
        assert inside.wait(10)
    assert gc.get_freeze_count() > 0  # the other thread is still inside
    leave.set()
    thread.join(10)
    assert gc.get_freeze_count() == 0


def test_a_scope_left_by_an_exception_unfreezes():
    with pytest.raises(RuntimeError), collector.earlier_objects_left_alone():
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0


def test_paused_switches_the_collector_off_and_back_on():
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_paused_leaves_a_collector_that_was_off_off():
    gc.disable()
    with collector.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads_switch_the_collector_on_when_the_last_leaves():
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with collector.paused():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    with collector.paused():
        thread.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other thread is still inside
    leave.set()
    thread.join(10)
    assert gc.isenabled()


def test_a_refresh_fetches_with_earlier_objects_left_alone_and_unfreezes_after(tmp_path, sites_server, database_url, monkeypatch):
    world = World(tmp_path, sites_server, database_url)
    frozen_while_fetching = []
    gather = pipeline._gather

    async def watched(*args, **kwargs):
        frozen_while_fetching.append(gc.get_freeze_count())
        return await gather(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_gather", watched)
    try:
        report = world.refresh()
    finally:
        world.store.close()
    assert report.published and not report.failed
    assert frozen_while_fetching and frozen_while_fetching[0] > 0
    assert gc.get_freeze_count() == 0
