"""Concurrency: N streaming chats open at once against the app under its shipped gunicorn config.

Streams start spread over RAMP seconds (people do not all press Enter in the same millisecond) and each
answer lasts longer than the ramp, so all N are open together at the peak (the table shows the measured
peak). The upstream runs in its own process; the same N streams are first sent to it directly (the
baseline), then through the app. Reports errors, lost or duplicated characters, first-token times and the
overhead (app minus direct, same run), and the gunicorn workers' peak memory and CPU.

The upstream is bench/lean_upstream.py: the same answers, bytes and pace as the tests' scripted upstream, on
one asyncio loop instead of one OS thread per stream. That is a change to the harness, not to the app: the
thread-per-stream upstream used 0.3-0.55 core of the 2 at 1,000 streams and stalled in bursts of its own
(its direct first-token p99 was 15-440 ms, this one's 3-5 ms), which both paths paid, the app's first tokens
most. BENCH_UPSTREAM=scripted runs the tests' scripted upstream (testkit/upstream.py). "everything else" is the CPU the rest of the
machine used during the run: a run where it is not ~0 shared the cores and is not comparable.

    python -m bench concurrency            # N = 500
    BENCH_STREAMS=1000 python -m bench concurrency
"""

import asyncio
import os
import threading
import time

import psutil

from bench import lean_upstream
from bench.common import median, percentile, print_table
from testkit.gunicorn_app import GunicornApp
from testkit.load import one_stream, parse_answer

CHUNK_CHARS, DELAY, REPEAT = 8, 0.1, 15  # ~630-character answers streamed over ~8 s, like a fast model
RAMP = 5.0


def expected_answer(question):
    """What the scripted upstream answers to `question` (its default reply, repeated)."""
    return f"Answer to: {question} (saw 0 earlier messages)" * REPEAT


async def run_streams(url, n, ramp=RAMP):
    """Start n streams spread evenly over `ramp` seconds; returns (results, peak streams open at once)."""
    open_streams = {"now": 0, "peak": 0}
    tasks = [asyncio.create_task(one_stream(url, f"q{i:05d}", ramp * i / n, open_streams)) for i in range(n)]
    return await asyncio.gather(*tasks), open_streams["peak"]


def summarize(name, run):
    """One table row: peak open streams, errors, lost/duplicated answers, first-token median and p99."""
    results, peak = run
    answers = [(r[2], "") if r[2] else parse_answer(r[1])[::-1] for r in results]  # (error, text)
    errors = [error for error, _ in answers if error]
    wrong_ones = [(i, text) for i, (error, text) in enumerate(answers)
                  if not error and text != expected_answer(f"q{i:05d}")]
    wrong = len(wrong_ones)
    if wrong_ones:  # show one, so a lost or duplicated piece can be seen
        i, text = wrong_ones[0]
        print(f"{name}: answer {i} differs: expected {expected_answer(f'q{i:05d}')!r}, got {text!r}")
    firsts = [r[0] * 1000 for r in results if r[0] is not None]
    return [name, peak, len(errors), wrong, f"{median(firsts):.0f}", f"{percentile(firsts, 99):.0f}"], firsts, errors


class Sampler:
    """Samples the peak RSS and total CPU time of gunicorn's worker processes while a run goes on."""

    def __init__(self, pid):
        self.master = psutil.Process(pid)
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def workers(self):
        """The master's worker processes."""
        return self.master.children()

    def _run(self):
        while not self._stop.wait(0.2):
            self.peak_rss = max(self.peak_rss, sum(w.memory_info().rss for w in self.workers()))

    def cpu_seconds(self):
        """User + system CPU seconds used so far by all workers."""
        return sum(sum(w.cpu_times()[:2]) for w in self.workers())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def busy_seconds():
    """CPU seconds the whole machine spent busy so far (all cores): other load there skews a run."""
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + times.irq + times.softirq


def main():
    """Run the baseline and the app with the same N streams; print the table."""
    n = int(os.environ.get("BENCH_STREAMS", "500"))
    module = "testkit.upstream" if os.environ.get("BENCH_UPSTREAM") == "scripted" else "bench.lean_upstream"
    upstream_url, upstream = lean_upstream.start(CHUNK_CHARS, DELAY, REPEAT, module)
    env = {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": upstream_url, "MODELS": "scripted", "RATE_LIMIT": ""}
    try:
        direct = asyncio.run(run_streams(f"{upstream_url}/chat/completions", n))
        with GunicornApp(env) as app, Sampler(app.process.pid) as sampler:
            asyncio.run(run_streams(f"{app.url}/v1/chat/completions", 10, ramp=0))  # warm-up: imports, pools
            others = [psutil.Process(), psutil.Process(upstream.pid)]
            others_before = [sum(p.cpu_times()[:2]) for p in others]
            machine_before = busy_seconds()
            cpu_before, started = sampler.cpu_seconds(), time.perf_counter()
            through = asyncio.run(run_streams(f"{app.url}/v1/chat/completions", n))
            elapsed = time.perf_counter() - started
            cpu = sampler.cpu_seconds() - cpu_before
            client_cpu, upstream_cpu = (sum(p.cpu_times()[:2]) - b for p, b in zip(others, others_before))
            other_cpu = busy_seconds() - machine_before - cpu - client_cpu - upstream_cpu
            workers = len(sampler.workers())
    finally:
        upstream.terminate()
    row_direct, first_direct, _ = summarize("upstream direct", direct)
    row_app, first_app, errors = summarize("through the app", through)
    print_table(f"{n} streams started over {RAMP:.0f} s, ~{len(expected_answer('q00000'))} characters each "
                f"(first token in ms)", [row_direct, row_app],
                ["path", "peak open", "errors", "wrong answers", "median", "p99"])
    print(f"\nfirst-token overhead (app - direct): median {median(first_app) - median(first_direct):.0f} ms, "
          f"p99 {percentile(first_app, 99) - percentile(first_direct, 99):.0f} ms")
    print(f"gunicorn: {workers} workers, peak RSS {sampler.peak_rss / 2**20:.0f} MiB in all, "
          f"{cpu:.1f} CPU-s over {elapsed:.1f} s ({cpu / elapsed * 100:.0f}% of one core); on the same 2 cores the "
          f"benchmark client used {client_cpu / elapsed * 100:.0f}% and the upstream ({module}) "
          f"{upstream_cpu / elapsed * 100:.0f}% of one core, everything else {other_cpu / elapsed * 100:.0f}%")
    if errors:
        print("errors:", sorted(set(map(str, errors)))[:5])


if __name__ == "__main__":
    main()
