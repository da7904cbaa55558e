"""The byte budget big photos are decoded within."""

import asyncio

import pytest

from bot.memory import ByteBudget


async def test_the_budget_grants_in_arrival_order_and_lets_an_oversized_item_go_alone():
    budget = ByteBudget(10)
    order, release = [], asyncio.Event()

    async def take(name: str, size: int, asked: asyncio.Event) -> None:
        asked.set()  # the rest of this step, up to its first wait, gets it the bytes or a place in the queue
        async with budget.hold(size):
            order.append(name)
            await release.wait()

    asks = [asyncio.Event() for _ in range(4)]
    first = asyncio.create_task(take("6 bytes", 6, asks[0]))
    await asks[0].wait()
    sizes = (("8 bytes", 8), ("1 byte", 1), ("50", 50))
    waiting = [
        asyncio.create_task(take(name, size, asked)) for (name, size), asked in zip(sizes, asks[1:], strict=True)
    ]
    for asked in asks[1:]:
        await asked.wait()
    assert order == ["6 bytes"] and budget.held == 6  # the small one does not pass the big one waiting
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["6 bytes", "8 bytes", "1 byte", "50"] and budget.idle


async def test_a_cancelled_wait_gives_its_place_back():
    budget = ByteBudget(10)
    holding, held, asked = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def hold_all() -> None:
        async with budget.hold(10):
            held.set()
            await holding.wait()

    async def hold_five() -> None:
        asked.set()  # the rest of this step, up to its first wait, puts it in the queue
        async with budget.hold(5):
            pytest.fail("granted bytes that were all held")

    owner = asyncio.create_task(hold_all())
    await held.wait()
    stuck = asyncio.create_task(hold_five())
    await asked.wait()
    assert not budget.idle and not stuck.done()
    stuck.cancel()
    await asyncio.gather(stuck, return_exceptions=True)
    holding.set()
    await owner
    assert budget.idle


TRIM_SCRIPT = """
from bot.memory import give_back_memory
from tests.support.processes import resident_mb
chunks = [bytearray(64 * 1024) for _ in range(3000)]  # 190 MB under glibc's mmap threshold: heap
keep = bytearray(64 * 1024)  # at the top of the heap, so free() alone cannot shrink it
held = resident_mb()
del chunks
freed = resident_mb()
give_back_memory()
print(held, freed, resident_mb())
"""


def test_freed_memory_goes_back_to_the_system_only_when_handed_back():
    import subprocess
    import sys

    from tests.support import ROOT

    result = subprocess.run([sys.executable, "-c", TRIM_SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True)
    held, freed, given_back = map(float, result.stdout.split())
    assert freed > held - 50  # freed, but glibc keeps it in its heap
    assert given_back < held - 150  # malloc_trim returns it


ARENAS_SCRIPT = """
import ctypes, ctypes.util, re, sys, tempfile, threading
if sys.argv[1] == "limited":
    from bot.memory import limit_malloc_arenas
    limit_malloc_arenas()
start = threading.Barrier(8)
def allocate():
    start.wait()
    for _ in range(50):
        [bytearray(200_000) for _ in range(5)]
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile("r") as report:
    stream = ctypes.c_void_p(libc.fopen(report.name.encode(), b"w"))
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(len(re.findall(r'<heap nr="[0-9]+">', report.read())))
"""


def test_eight_threads_allocating_at_once_share_two_malloc_arenas():
    import subprocess
    import sys

    from tests.support import ROOT

    def arenas(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", ARENAS_SCRIPT, mode], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return int(done.stdout)

    assert arenas("default") > 2  # glibc gives contending threads arenas of their own
    assert arenas("limited") == 2
