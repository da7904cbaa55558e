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


def seconds_per_check(active_users: int) -> float:
    """The best of three rounds of 2,000 checks, each of a user already among `active_users`."""
    limiter = RateLimiter(30)
    keys = [f"user{i}" for i in range(active_users)]
    for key in keys:
        limiter.allow(key)
    checked = [keys[i % active_users] for i in range(0, 2_000 * 7, 7)]
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for key in checked:
            limiter.allow(key)
        rounds.append((time.perf_counter() - started) / len(checked))
    return min(rounds)


def test_a_check_costs_the_same_at_20000_active_users_as_at_200():
    few, many = seconds_per_check(200), seconds_per_check(20_000)
    # A scan of every key (about 1 ms a check at 20,000) made it a hundred times dearer.
    assert many < 3 * few, f"{many * 1e6:.1f} µs per check at 20,000 users, {few * 1e6:.1f} µs at 200"


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
    # Refused in its first step, before it could wait for anything (the group's minute, a free slot).
    refusal = request(-5)
    with pytest.raises(ChatFlooded):
        refusal.send(None)
    for _ in range(5):
        await request(42)  # a private chat: only the bot-wide 30 a second applies
    assert sent == [-5] * 3 + [42] * 5
