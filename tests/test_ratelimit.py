"""The per-user sliding window, on a clock the test controls."""

from bot.ratelimit import Admission, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_per_window_and_one_answer_per_flood():
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.allow("a").allowed for _ in range(3)] == [True, True, True]
    refused = [limiter.allow("a") for _ in range(5)]
    assert [r.allowed for r in refused] == [False] * 5
    assert [r.first_refusal for r in refused] == [True, False, False, False, False]
    assert refused[0].retry_in == 60.0
    assert limiter.allow("b").allowed  # other users are not slowed down
    clock.now += 60.5
    assert limiter.allow("a") == Admission(allowed=True, retry_in=0.0, first_refusal=False)


def test_a_new_window_gets_a_new_answer():
    clock = Clock()
    limiter = RateLimiter(1, 10, clock=clock)
    limiter.allow("a")
    assert limiter.allow("a").first_refusal
    clock.now += 10.5
    limiter.allow("a")
    assert limiter.allow("a").first_refusal
