"""A lab that keeps the pact is never accused, at any moment anyone looks.

The world here is the real one as admission allows it: each statement is signed at its
own time and reaches the log up to ``max_skew_seconds`` later, so at any moment some
statements are still on their way, and the log as of that moment is the prefix of
entries that have arrived. Members adopt the pact at moments of their own. Every lab
keeps the rules of the pact: it stops its covered run before the pause's window opens,
attests once in every period (at any moment of it), and from its adoption on logs every
hour of compute within ``report_within_hours`` (reports of any length up to that, sent
at any moment that allows). The meter reads exactly what each lab's cluster used, from
before the pact bound anyone, over windows of its own, and sends each reading whenever
it likes. Replay, as of any moment, and in particular the moments just after a period
ends, must find no violation; and a server's live state, following the log as it grows,
must say the same.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pausepact.pact.replay import IncrementalReplay, replay
from tests.pactkit import MEMBERS, T0, Kit

HOUR = 3600
DAY = 24 * HOUR
SKEW = 300  # the pact's max_skew_seconds (the default)
BOUND = SKEW + 600  # max_skew_seconds + stop_within_seconds (the default)
GRACE = 48 * HOUR  # grace_hours
EVERY = DAY  # attest_every_hours
WITHIN = DAY  # report_within_hours (the default)
LABS = [m for m in MEMBERS if m.startswith("lab/")]


@dataclass(repr=False)
class World:
    """Each statement: when it is signed, when it reaches the log, and how to add it
    (in seconds after the kit's T0). The log is every statement in arrival order."""

    kit: Kit = field(default_factory=Kit)
    statements: list[tuple[int, int, Callable[[], int]]] = field(default_factory=list)
    last_logged: dict[str, int] = field(default_factory=dict)
    #: moments worth looking at: ends of periods, deadlines, arrivals
    edges: set[int] = field(default_factory=set)

    def __repr__(self) -> str:
        return f"World({len(self.statements)} statements)"

    def sign(self, signer: str, at: int, delay: int, add: Callable[[], int]) -> None:
        # a member sends its statements one after another: they arrive in that order
        logged = max(at + delay, self.last_logged.get(signer, 0))
        self.last_logged[signer] = logged
        self.statements.append((at, logged, add))
        self.edges.add(logged)

    def log(self) -> list[int]:
        """Append every statement to the kit in arrival order; their arrival times."""
        arrivals = []
        for _, logged, add in sorted(self.statements, key=lambda s: (s[1], s[0])):
            add()
            arrivals.append(logged)
        return arrivals


def hours(seconds: int) -> float:
    return seconds / HOUR


def compliant_world(seed: int) -> tuple[World, int]:
    """A pause and three labs that keep the pact through it; the world's last moment."""
    rnd = random.Random(seed)
    world = World()
    kit = world.kit

    def delay() -> int:
        return rnd.randint(0, SKEW)

    adopted = {name: rnd.randint(0, HOUR) for name in MEMBERS}  # each in its own time
    for name, at in adopted.items():
        world.sign(
            name, at, delay(), lambda n=name, at=at: kit.add("pact.adopt", n, hours(at), version=1)
        )
    paused_at = rnd.randint(2 * HOUR, 48 * HOUR)
    pause: list[int] = []  # the pause's entry, once logged (where depends on the delays)

    def declare() -> int:
        pause.append(kit.horizon(hours(paused_at), 600))  # above the pact's 480: a pause
        return pause[0]

    world.sign("evaluator/aisi", paused_at, delay(), declare)
    window = paused_at + max(GRACE, BOUND)
    end = window + rnd.randint(0, 3 * DAY)
    world.edges.update(window + k * EVERY + SKEW for k in range((end - window) // EVERY + 1))
    used: dict[str, list[tuple[int, int, float]]] = {}  # cluster → (start, end, hours/s)
    for lab in LABS:
        cluster = MEMBERS[lab][0]
        big, small = f"{lab[4:]}-big", f"{lab[4:]}-small"  # run IDs are the pact's, not a lab's
        joined = adopted[lab]
        world.sign(
            lab, joined, delay(), lambda lab=lab, r=big, at=joined: kit.register(lab, r, hours(at))
        )
        world.sign(
            lab,
            joined,
            delay(),
            lambda lab=lab, r=small, at=joined: kit.register(
                lab, r, hours(at), tags=["product"], flop=1e22
            ),
        )
        # (signed at, what, period start, period end, accelerator-hours per second)
        events: list[tuple[int, str, int, int, float]] = []
        # compute reports, back to back from its adoption (its clusters ran before, and
        # the meter read them; the lab owed nothing then): each period at most
        # report_within long, each signed by its first moment + report_within
        longest = rnd.randint(2 * HOUR, WITHIN)
        used.setdefault(cluster, []).append((0, joined, rnd.uniform(1, 100) / HOUR))
        for run, stop in ((big, window), (small, end)):
            t = joined
            while t < stop:
                length = min(rnd.randint(longest // 2, longest), stop - t)
                rate = rnd.uniform(1, 100) / HOUR
                signed = t + length + rnd.randint(0, WITHIN - length)
                events.append((signed, run, t, t + length, rate))
                used.setdefault(cluster, []).append((t, t + length, rate))
                t += length
        # attestations: one per period of the pause, at any moment of it (the last
        # seconds of a period included)
        for k in range((end - window) // EVERY + 1):
            lo = window + k * EVERY
            at = lo + rnd.choice([rnd.randint(0, EVERY - 1), EVERY - 1 - rnd.randint(0, 2)])
            events.append((at, "attest", lo, lo + EVERY, 0.0))
        for signed, what, lo, hi, rate in sorted(events):  # one signer, one clock
            add: Callable[[], int]
            if what == "attest":
                add = lambda lab=lab, lo=lo, hi=hi, at=signed: kit.attest(  # noqa: E731
                    lab, pause[0], hours(lo), hours(hi), when=hours(at)
                )
            else:
                add = lambda lab=lab, run=what, lo=lo, hi=hi, r=rate, at=signed: kit.compute(  # noqa: E731
                    lab, run, hours(lo), hours(hi), 1e18, (hi - lo) * r, when=hours(at)
                )
            world.sign(lab, signed, delay(), add)
    # the meter reads what each cluster used, over windows of its own, sent late or not
    readings = []
    for cluster in sorted(used):
        t = 0
        while t < end:
            length = min(rnd.randint(HOUR, 36 * HOUR), end - t)
            exact = sum(
                (min(hi, t + length) - max(lo, t)) * rate
                for lo, hi, rate in used[cluster]
                if lo < t + length and hi > t
            )
            readings.append((t + length + rnd.randint(0, 6 * HOUR), cluster, t, t + length, exact))
            world.edges.add(t + length + WITHIN + SKEW)  # when the reading is judged
            t += length
    for signed, cluster, lo, hi, exact in sorted(readings):
        world.sign(
            "meter/cloud-a",
            signed,
            delay(),
            lambda c=cluster, lo=lo, hi=hi, x=exact, at=signed: kit.meter(
                c, hours(lo), hours(hi), x, when=hours(at)
            ),
        )
    return world, end


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_a_lab_that_keeps_the_pact_is_never_in_violation(seed: int) -> None:
    world, end = compliant_world(seed)
    arrivals = world.log()
    rnd = random.Random(seed)
    edges = sorted(world.edges)
    moments = {rnd.randint(0, end) for _ in range(10)}
    moments |= {min(end, e + d) for e in rnd.sample(edges, min(30, len(edges))) for d in (-1, 0, 1)}
    paused = 0
    live = IncrementalReplay(world.kit.pact)  # a server's live state, following the log
    for as_of in sorted(moments):
        logged = sum(1 for a in arrivals if a <= as_of)
        when = T0 + timedelta(seconds=as_of)
        state = replay(world.kit.pact, world.kit.entries[:logged], when)
        assert state.rejected == [], as_of
        assert state.violations == [], as_of
        assert live.update(world.kit.entries[:logged], when).to_json() == state.to_json()
        paused += state.active_pause is not None
    assert paused  # the world did reach its pause
