"""The throttle: pacing, the sliding 1-second window, pauses, in-flight bound."""

from __future__ import annotations

import threading

from tap_pagerduty.throttle import Throttle


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(seconds, 0.0)


def starts(throttle: Throttle, fake: FakeTime, n: int) -> list[float]:
    times = []
    for _ in range(n):
        throttle.acquire()
        times.append(fake.now)
    return times


def test_paces_at_rate_and_never_exceeds_it_in_any_second() -> None:
    fake = FakeTime()
    throttle = Throttle(5, 3, clock=fake.clock, sleep=fake.sleep)
    times = starts(throttle, fake, 50)
    for i, t0 in enumerate(times):
        in_window = [t for t in times[i:] if t < t0 + 1.0]
        assert len(in_window) <= 5
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert 4.75 <= achieved <= 5.0


def test_pause_holds_the_next_request() -> None:
    fake = FakeTime()
    throttle = Throttle(5, 3, clock=fake.clock, sleep=fake.sleep)
    throttle.acquire()
    throttle.pause(7.0)
    before = fake.now
    throttle.acquire()
    assert fake.now - before >= 7.0


def test_in_flight_bound_with_real_threads() -> None:
    """Twelve threads; those holding a slot keep it until three hold one at once (an event,
    not a sleep that a loaded machine may outlast), then all go through."""
    throttle = Throttle(1000, 3)
    active = 0
    peak = 0
    changed = threading.Condition()
    leave = threading.Event()

    def work() -> None:
        nonlocal active, peak
        with throttle.request_slot():
            with changed:
                active += 1
                peak = max(peak, active)
                changed.notify_all()
            leave.wait(30)
            with changed:
                active -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    with changed:
        three_at_once = changed.wait_for(lambda: active == 3, timeout=30)
    leave.set()
    for thread in threads:
        thread.join()
    assert three_at_once and peak == 3


def test_after_stop_no_attempt_starts_and_in_flight_ones_are_awaited() -> None:
    import pytest

    from tap_pagerduty.throttle import Stopped

    throttle = Throttle(100, 2)
    entered, release = threading.Event(), threading.Event()

    def in_flight() -> None:
        with throttle.request_slot():
            entered.set()
            release.wait(5)

    worker = threading.Thread(target=in_flight)
    worker.start()
    assert entered.wait(5)
    throttle.stop()
    with pytest.raises(Stopped), throttle.request_slot():
        raise AssertionError("an attempt started after stop()")
    assert throttle.wait_idle(0.2) is False  # one attempt still in flight
    release.set()
    assert throttle.wait_idle(5) is True
    worker.join(5)
