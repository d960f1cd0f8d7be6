"""Embedded model: load time, first token, tokens/s and memory, and its answers to the README's test questions.

For each shipped model (`BENCH_EMBEDDED_MODELS`, comma-separated; default: both): the provider called in-process
(file check + load, then the answers) and the app as deployed (gunicorn, the shipped config, one worker) for
first token and tokens/s over the same short question, alternating, medians. Tokens come from the usage the
model reports (the app merges deltas that arrive close together, so chunks are not tokens).
"""

import os
import time

import psutil

from bench.common import median, print_table, stream_timing
from chatcore.messages import ChatRequest
from chatcore.providers import build_embedded
from config import DEFAULT_DATA_DIR, EMBEDDED_MODELS, load_settings
from testkit.gunicorn_app import GunicornApp
from testkit.waiting import wait_until

QUESTIONS = ["用一句话介绍一下长城。", "What is the capital of France? Answer in one sentence.",
             "把这句话翻译成英文：我今天很高兴。",
             "Write a Python function is_prime(n) that returns True if n is prime. Reply with only the code."]
# A new city each run: llama.cpp reuses the cached prompt of an identical question, which would hide the prompt time.
CITIES = ["Paris", "Rome", "Berlin", "Madrid", "Vienna", "Prague", "Lisbon"]
MAX_TOKENS = 128
RUNS = 3


def speed_prompt(run):
    """The short question of one run."""
    return [{"role": "user", "content": f"Write a short paragraph about the history of {CITIES[run]}."}]


def direct_run(provider, messages, temperature=0, max_tokens=MAX_TOKENS):
    """One answer from the provider in-process: (first-token seconds, completion tokens, tokens/s after the first, text)."""
    started = time.perf_counter()
    first, parts = None, []
    for item in provider.stream(ChatRequest(model="m", messages=messages, temperature=temperature,
                                            max_tokens=max_tokens)):
        if isinstance(item, str):
            first = first or time.perf_counter() - started
            parts.append(item)
        else:
            tokens = item.usage["completion_tokens"]
    total = time.perf_counter() - started
    return first, tokens, (tokens - 1) / (total - first), "".join(parts)


def bench_model(model_id):
    """Measure one model; return its table rows and print its answers."""
    env = {"EMBEDDED_MODEL": model_id, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "WEB_CONCURRENCY": "1",
           "MAX_ANSWER_TOKENS": "512", "DATA_DIR": os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)}
    provider = build_embedded(load_settings(env, dotenv_path=None))
    provider.start()
    wait_until(lambda: provider.load_seconds or not provider.health()[0], 600, "the model to load")
    assert provider.health()[0], provider.health()[1]
    print(f"\n### {model_id}: answers at temperature 0 (and at the page's 0.7)\n")
    for question in QUESTIONS:
        for temperature in (0, 0.7):
            *_, text = direct_run(provider, [{"role": "user", "content": question}], temperature, 200)
            print(f"- {question} (t={temperature}) → {text!r}")

    with GunicornApp(env) as server:
        url = f"{server.url}/v1/chat/completions"
        body = {"stream": True, "temperature": 0, "max_tokens": MAX_TOKENS, "stream_options": {"include_usage": True}}
        started = time.perf_counter()
        stream_timing(url, {**body, "messages": speed_prompt(-1)})  # waits for the worker's own load (at its start)
        first_answer = time.perf_counter() - started
        direct, app = [], []
        for run in range(RUNS):
            direct.append(direct_run(provider, speed_prompt(run))[:3])
            first, _, total, _, usage = stream_timing(url, {**body, "messages": speed_prompt(run)})
            tokens = usage["completion_tokens"]
            app.append((first, tokens, (tokens - 1) / (total - first)))
        worker = psutil.Process(server.process.pid).children()[0]
        memory = worker.memory_full_info()  # uss: what this worker alone holds (shared file pages excluded)
        rss, uss = memory.rss / 2**30, memory.uss / 2**30

    rows = []
    for name, runs in (("in-process", direct), ("through the app (gunicorn, SSE)", app)):
        rows.append([model_id, name, f"{median([r[0] for r in runs]) * 1000:.0f} ms",
                     f"{median([r[2] for r in runs]):.1f}", "", ""])
    rows[0][4] = f"{provider.load_seconds:.1f} s"
    rows[1][4] = f"first answer {first_answer:.1f} s after start"
    rows[1][5] = f"{rss:.2f} GiB (own: {uss:.2f})"
    return rows


def main():
    """Measure every chosen model and print one table."""
    chosen = os.environ.get("BENCH_EMBEDDED_MODELS", ",".join(EMBEDDED_MODELS)).split(",")
    rows = [row for model_id in chosen for row in bench_model(model_id.strip())]
    print_table(f"Embedded models ({MAX_TOKENS}-token answer, temperature 0, {RUNS} runs each, medians)", rows,
                ["model", "path", "first token", "tokens/s", "check + load", "worker RSS"])


if __name__ == "__main__":
    main()
