"""The per-member rate: a token per entry a member's statements add to the log.

A batch holds a token per envelope before it is sequenced and settles after: the
entries it added are charged, its copies' tokens come back. Holds are granted in
arrival order, so copies that anyone sends delay a member's batch and never refuse it,
and the burst is never exceeded."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pausepact.cli import cli
from pausepact.server.rate_limit import BusyError, RateLimitedError, RateLimiter
from tests.netkit import a_node, evidence, in_thread, workspace

FROZEN = 1e-9  # tokens per second: nothing refills during a test


def test_a_batch_holds_a_token_per_envelope_and_pays_for_what_it_added() -> None:
    rl = RateLimiter(FROZEN, 10)
    held = rl.hold({"lab/a": 4})
    assert rl.tokens("lab/a") == pytest.approx(6)
    rl.settle(held, {"lab/a": 1})
    assert rl.tokens("lab/a") == pytest.approx(9)


def test_a_batch_larger_than_the_bucket_is_refused_holding_nothing() -> None:
    rl = RateLimiter(FROZEN, 10)
    with pytest.raises(RateLimitedError) as exc:
        rl.hold({"lab/a": 3, "lab/b": 11})
    assert exc.value.retry_after > 0
    assert rl.tokens("lab/a") == pytest.approx(10) and rl.tokens("lab/b") == pytest.approx(10)


def test_copies_held_ahead_delay_a_batch_and_never_refuse_it() -> None:
    rl = RateLimiter(FROZEN, 10)
    copies = rl.hold({"lab/a": 10})  # a stranger's batch of copies, being sequenced
    t, out = in_thread(lambda: rl.hold({"lab/a": 3}))  # the member's own batch
    time.sleep(0.2)
    assert t.is_alive()  # it waits for the batch ahead, it is not refused
    rl.settle(copies, {})  # the copies added nothing: their tokens come back
    t.join(5)
    assert out == [{"lab/a": 3}]


def test_a_batch_is_refused_when_the_batches_ahead_spent_the_bucket() -> None:
    rl = RateLimiter(FROZEN, 10)
    first = rl.hold({"lab/a": 8})
    t, out = in_thread(lambda: rl.hold({"lab/a": 5}))
    time.sleep(0.1)
    rl.settle(first, {"lab/a": 8})
    t.join(5)
    assert len(out) == 1 and isinstance(out[0], RateLimitedError)
    assert rl.tokens("lab/a") == pytest.approx(2)


def test_holds_are_granted_in_arrival_order() -> None:
    rl = RateLimiter(FROZEN, 10)
    ahead = rl.hold({"lab/a": 6})
    waiting, first = in_thread(lambda: rl.hold({"lab/a": 6}))
    time.sleep(0.1)
    later, second = in_thread(lambda: rl.hold({"lab/a": 1}))
    time.sleep(0.2)
    assert later.is_alive()  # 4 tokens are free, but a batch that came earlier waits
    rl.settle(ahead, {})
    waiting.join(5)
    later.join(5)
    assert first == [{"lab/a": 6}] and second == [{"lab/a": 1}]


def test_a_batch_stuck_behind_unsettled_batches_is_busy_not_rate_limited() -> None:
    rl = RateLimiter(FROZEN, 10, wait=0.2)
    rl.hold({"lab/a": 10})  # never settled: a store that hangs
    with pytest.raises(BusyError):
        rl.hold({"lab/a": 1})
    assert rl.tokens("lab/a") == pytest.approx(0)


def test_concurrent_batches_never_exceed_the_burst() -> None:
    rl = RateLimiter(FROZEN, 10)
    barrier = threading.Barrier(20)

    def one() -> bool:
        barrier.wait()
        try:
            held = rl.hold({"lab/a": 1})
        except RateLimitedError:
            return False
        time.sleep(0.01)
        rl.settle(held, {"lab/a": 1})  # each adds its entry
        return True

    runs = [in_thread(one) for _ in range(20)]
    for t, _ in runs:
        t.join(10)
    assert sum(out == [True] for _, out in runs) == 10
    assert rl.tokens("lab/a") == pytest.approx(0, abs=1e-6)


def test_batches_of_several_members_do_not_wait_on_each_other() -> None:
    """Each bucket holds one batch at a time, and two threads name the members in
    opposite orders: held in any order but one, each would hold one member and wait for
    the other's (busy after ``wait``)."""
    rl = RateLimiter(FROZEN, 1, wait=2.0)

    def many(order: list[str]) -> int:
        for _ in range(200):
            held = rl.hold({m: 1 for m in order})
            time.sleep(0.0005)  # being sequenced
            rl.settle(held, {})
        return 200

    runs = [in_thread(lambda o=o: many(o)) for o in (["lab/a", "lab/b"], ["lab/b", "lab/a"])]
    for t, _ in runs:
        t.join(30)
    assert [out for _, out in runs] == [[200], [200]]


def test_a_member_keeps_its_rate_while_strangers_replay_its_statements(tmp_path: Path) -> None:
    """On a server: four threads keep sending batches of copies of a lab's logged
    statement, each batch about the size of its bucket, while the lab submits its own;
    every one of the lab's statements is admitted, and only they are charged."""
    with a_node(tmp_path, rate=FROZEN, burst=60) as (n, ws):
        own = evidence(ws, 11, "busy")
        n.submit(own[:1])
        stop = threading.Event()

        def replay_copies() -> int:
            sent = 0
            while not stop.is_set():
                try:
                    n.submit([own[0]] * 50)
                    sent += 1
                except RateLimitedError:
                    pass  # more copies than free tokens at that moment: refused, none taken
            return sent

        strangers = [in_thread(replay_copies) for _ in range(4)]
        time.sleep(0.2)
        for statement in own[1:]:
            assert n.submit([statement])[0].index == n.log.size - 1
        stop.set()
        for t, _ in strangers:
            t.join(10)
        assert sum(out[0] for _, out in strangers if isinstance(out[0], int)) > 0
        assert n.log.size == 11
        assert n.limiter.tokens("evaluator/aisi") == pytest.approx(49, abs=0.01)


@pytest.mark.parametrize(
    ("rate", "burst", "said"),
    [
        (0, 10, "rate must be more than 0"),
        (-1, 10, "rate must be more than 0"),
        (float("nan"), 10, "rate must be more than 0"),
        (1, 0.5, "burst must be at least 1"),
    ],
)
def test_a_bucket_that_could_never_admit_a_statement_is_refused(
    rate: float, burst: float, said: str
) -> None:
    with pytest.raises(ValueError, match=said):
        RateLimiter(rate, burst)


@pytest.mark.parametrize(
    ("option", "value"), [("--rate", "0"), ("--rate", "-5"), ("--burst", "0.5")]
)
def test_serve_refuses_a_rate_or_burst_that_admits_nothing(
    tmp_path: Path, option: str, value: str
) -> None:
    ws = workspace(tmp_path / "ws", quorum=0)
    r = CliRunner().invoke(cli, ["serve", str(ws.root), option, value])
    assert r.exit_code == 2 and option in r.output, r.output
