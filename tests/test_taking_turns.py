"""A greenlet reading an upstream whose data is always there lets the worker's other greenlets run
(chatcore/os_thread.py taking_turns): under gevent such reads never switch on their own."""

import subprocess
import sys

from testkit.gunicorn_app import ROOT

# A reader that takes 1 ms of CPU per item for 200 items, and a greenlet that counts its own turns meanwhile. The
# items are a list: taking one never waits, as a read whose data has already arrived returns without a switch.
SCRIPT = """
from gevent import monkey; monkey.patch_all()
import sys, time, gevent
from chatcore.os_thread import taking_turns

turns = []
def other():
    while True:
        turns.append(1)
        gevent.sleep(0)

def read(items):
    for _ in items:
        end = time.perf_counter() + 0.001
        while time.perf_counter() < end:
            pass

counter = gevent.spawn(other)
gevent.sleep(0)
turns.clear()
read(taking_turns(range(200)) if sys.argv[1] == "taking turns" else range(200))
print(len(turns))
"""


def turns_of_another_greenlet(way):
    """How many times another greenlet ran while 200 items were read `way`."""
    result = subprocess.run([sys.executable, "-c", SCRIPT, way], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_a_reader_whose_data_is_always_there_lets_other_greenlets_run():
    # The reader held the loop for ~200 ms: taking turns every TURN_SECONDS, the other greenlet ran many times.
    assert turns_of_another_greenlet("plain") == 0
    assert turns_of_another_greenlet("taking turns") >= 10
