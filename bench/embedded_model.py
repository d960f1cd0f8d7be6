"""Embedded model: tokens/s and first-token time through the app vs llama-cpp-python called directly.

Same model file, prompt and settings (temperature 0, fixed max_tokens, threads = cores), alternating runs,
medians. The app runs under gunicorn with the shipped config and one worker, so every answer comes from
the one model copy that worker loaded on its first question.
"""

import os
import time

from bench.common import median, print_table, stream_timing
from config import find_embedded_model
from testkit.gunicorn_app import GunicornApp

PROMPT = [{"role": "user", "content": "Write a short paragraph about the history of Paris."}]
MAX_TOKENS = 128
RUNS = 5


def direct_run(llama):
    """One streamed answer from llama-cpp-python itself: (first-token seconds, tokens, tokens/s after the first)."""
    started = time.perf_counter()
    first, tokens = None, 0
    for chunk in llama.create_chat_completion(messages=PROMPT, stream=True, temperature=0, max_tokens=MAX_TOKENS):
        if chunk["choices"][0]["delta"].get("content"):
            tokens += 1
            if first is None:
                first = time.perf_counter() - started
    total = time.perf_counter() - started
    return first, tokens, (tokens - 1) / (total - first)


def main():
    """Measure load time, then alternate direct and through-the-app runs and print medians and ratios."""
    from llama_cpp import Llama

    path = find_embedded_model()
    started = time.perf_counter()
    # The app's embedded provider uses one thread per core; so does this direct baseline.
    llama = Llama(model_path=path, n_ctx=2048, n_threads=os.cpu_count(), verbose=False)
    load_seconds = time.perf_counter() - started

    env = {"MAX_ANSWER_TOKENS": str(MAX_TOKENS), "WEB_CONCURRENCY": "1", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    with GunicornApp(env) as server:
        url = f"{server.url}/v1/chat/completions"
        # Tokens come from the usage the app reports: it merges deltas that arrive close together, so
        # chunks are not tokens.
        body = {"messages": PROMPT, "stream": True, "temperature": 0, "max_tokens": MAX_TOKENS,
                "stream_options": {"include_usage": True}}
        started = time.perf_counter()
        stream_timing(url, body)  # the worker loads its model on the first question
        first_question_seconds = time.perf_counter() - started
        direct, app = [], []
        for _ in range(RUNS):
            direct.append(direct_run(llama))
            first, _, total, _, usage = stream_timing(url, body)
            tokens = usage["completion_tokens"]
            app.append((first, tokens, (tokens - 1) / (total - first)))

    rows = []
    for name, runs in (("llama-cpp-python direct", direct), ("through the app (SSE)", app)):
        rows.append([name, f"{median([r[0] for r in runs]) * 1000:.0f} ms", f"{median([r[1] for r in runs]):.0f}",
                     f"{median([r[2] for r in runs]):.1f}"])
    ratio = median([r[2] for r in app]) / median([r[2] for r in direct])
    print_table(f"Embedded model (SmolLM2-135M Q4_1, {RUNS} runs each, medians)",
                rows, ["path", "first token", "tokens", "tokens/s"])
    print(f"\napp / direct tokens/s ratio: {ratio:.3f}; model load {load_seconds:.2f} s direct; "
          f"first question to a fresh worker (load + answer) {first_question_seconds:.2f} s")


if __name__ == "__main__":
    main()
