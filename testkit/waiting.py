"""Bounded polling for tests and benchmarks: wait for a condition instead of sleeping a fixed time."""

import time

import requests


def wait_until(probe, seconds=30, message="the condition", ignore=(requests.RequestException, OSError)):
    """Call probe() until it returns something truthy (errors in `ignore` count as not yet); return that."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = probe()
            if result:
                return result
        except ignore:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {message}")
        time.sleep(0.05)


def wait_until_ok(url, seconds=60, **kwargs):
    """Poll `url` until it answers 200."""
    return wait_until(lambda: requests.get(url, timeout=2, **kwargs).ok, seconds, f"{url} to answer 200")
