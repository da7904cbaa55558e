"""The per-user sliding window, on a clock the test controls."""

from bot.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_per_window_and_one_answer_per_flood():
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.allow("a")[0] for _ in range(3)] == [True, True, True]
    refused = [limiter.allow("a") for _ in range(5)]
    assert [r[0] for r in refused] == [False] * 5
    assert [r[2] for r in refused] == [True, False, False, False, False]
    assert refused[0][1] == 60.0
    assert limiter.allow("b")[0]  # other users are not slowed down
    clock.now += 60.5
    assert limiter.allow("a") == (True, 0.0, False)


def test_a_new_window_gets_a_new_answer():
    clock = Clock()
    limiter = RateLimiter(1, 10, clock=clock)
    limiter.allow("a")
    assert limiter.allow("a")[2]
    clock.now += 10.5
    limiter.allow("a")
    assert limiter.allow("a")[2]
