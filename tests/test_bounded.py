"""Long sessions stay bounded: the timeline keeps recent events and what a step still reads, and the load
balancer remembers a bounded number of client-certificate verdicts. (RSS over 20,000 connections: ``make bench``.)"""

from __future__ import annotations

import pytest

from lab.hosts.glb.server import VERDICTS_KEPT, LoadBalancer
from lab.model import scenario
from lab.model.events import Accepted, Closed, Event
from lab.runtime.pki import Pki
from lab.runtime.timeline import Timeline
from lab.runtime.world import World


def fill(timeline: Timeline, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        timeline.emit(Event(summary=str(i)))


def summaries(events: list[Event]) -> list[str]:
    return [e.summary for e in events]


def test_the_timeline_keeps_a_bounded_history_with_absolute_indexes() -> None:
    timeline = Timeline(history=10)
    fill(timeline, 25)
    assert len(timeline) == 25  # every event ever emitted is counted
    assert summaries(timeline.since(0)) == [str(i) for i in range(15, 25)]
    assert summaries(timeline.since(20)) == [str(i) for i in range(20, 25)]
    assert timeline.since(99) == []


def test_a_mark_keeps_its_step_whole_until_released() -> None:
    timeline = Timeline(history=10)
    fill(timeline, 5)
    mark = timeline.mark()
    fill(timeline, 30, start=5)
    assert summaries(timeline.since(mark)) == [str(i) for i in range(5, 35)]  # all 30, over the history
    timeline.release(mark)
    assert len(timeline.since(0)) == 10


def test_a_mark_that_is_never_released_still_has_a_bound() -> None:
    timeline = Timeline(history=10, pinned_max=100)
    timeline.mark()  # a step that never ends
    fill(timeline, 1000)
    assert len(timeline.since(0)) == 100


def test_open_connections_are_counted_until_their_closed_event() -> None:
    timeline = Timeline(history=2)
    conns = [timeline.new_conn() for _ in range(3)]
    for conn in conns:
        timeline.emit(Accepted(conn=conn))
    timeline.emit(Closed(conn=conns[0]))
    assert timeline.open_connections == 2


@pytest.fixture(scope="module")
def balancer() -> LoadBalancer:
    loaded = scenario.load("seed")
    return LoadBalancer(loaded.hosts["glb"], World(loaded, Timeline(), Pki()))


def test_the_verdict_cache_holds_a_bounded_number_of_chains(balancer: LoadBalancer) -> None:
    for i in range(VERDICTS_KEPT * 3):
        verdict = balancer.judge([i.to_bytes(4, "big") * 50_000])  # 200 KB each, not a certificate
        assert not verdict.chain_verified
    assert len(balancer._verdicts) == VERDICTS_KEPT
    assert all(len(key) == 32 for key in balancer._verdicts)  # a digest, not the 200 KB chain
