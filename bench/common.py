"""Helpers shared by the benchmarks: timing a streamed answer, medians and a plain table."""

import json
import statistics
import time

import requests


def stream_timing(url, body, headers=None):
    """POST a streaming chat request; return (seconds to first content, content chunks, seconds total, bytes,
    the usage object if the server sent one)."""
    started = time.perf_counter()
    first = None
    chunks = 0
    size = 0
    usage = None
    with requests.post(url, json=body, headers=headers, stream=True, timeout=300) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            size += len(line) + 2
            if not line.startswith(b"data: {"):
                continue
            event = json.loads(line[6:])
            usage = event.get("usage") or usage
            choices = event.get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                chunks += 1
                if first is None:
                    first = time.perf_counter() - started
    return first, chunks, time.perf_counter() - started, size, usage


def median(values):
    """Median of a non-empty list."""
    return statistics.median(values)


def percentile(values, p):
    """The p-th percentile (nearest rank) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def print_table(title, rows, headers):
    """Print rows as an aligned text table (also valid Markdown)."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    print(f"\n### {title}\n")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths)) + " |")
