"""The sliding windows, on a clock the test controls, and the group send budget."""

import time

import pytest

from bot.ratelimit import Admission, ChatFlooded, GroupBudgetRateLimiter, RateLimiter


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


def test_one_answer_per_window_however_the_flood_is_spread():
    clock = Clock()
    limiter = RateLimiter(2, 60, clock=clock)
    limiter.allow("group"), limiter.allow("group")
    clock.now += 30
    assert limiter.allow("group").first_refusal  # told at +30
    clock.now += 30.5  # the first two admissions have left the window: two more pass
    assert limiter.allow("group").allowed and limiter.allow("group").allowed
    assert not limiter.allow("group").first_refusal  # only 30.5 s after the last notice
    clock.now += 30
    assert limiter.allow("group").first_refusal


def test_a_check_costs_the_same_at_20000_active_users():
    limiter = RateLimiter(30)
    keys = [f"user{i}" for i in range(20_000)]
    for key in keys:
        limiter.allow(key)
    started = time.perf_counter()
    for key in keys[::10]:
        limiter.allow(key)
    per_check = (time.perf_counter() - started) / len(keys[::10])
    assert per_check < 50e-6, f"{per_check * 1e6:.0f} µs per check"  # was about 1 ms: a scan of every key


async def test_a_group_past_its_send_budget_is_refused_at_once_and_other_chats_are_not():
    limiter = GroupBudgetRateLimiter(group_per_minute=3)
    sent = []

    async def send(chat_id):
        sent.append(chat_id)
        return True

    async def request(chat_id):
        return await limiter.process_request(send, (chat_id,), {}, "sendMessage", {"chat_id": chat_id}, None)

    for _ in range(3):
        await request(-5)
    started = time.monotonic()
    with pytest.raises(ChatFlooded):
        await request(-5)
    assert time.monotonic() - started < 0.1  # refused, not made to wait for the group's minute
    for _ in range(5):
        await request(42)  # a private chat: only the bot-wide 30 a second applies
    assert sent == [-5] * 3 + [42] * 5
