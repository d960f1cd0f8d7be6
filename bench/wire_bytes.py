"""Wire bytes per turn, measured in a real browser: what the page sends and receives for turn 1, 10 and 50
of one conversation (multi-turn on), next to the bytes the model needs (the history) and the answer's own
bytes. The original app re-sent the whole rendered conversation every turn (160 KB each way at turn 20).
"""

import json
import os
import time

from selenium.webdriver.common.keys import Keys

from bench.common import print_table
from chatcore.service import DONE_EVENT, sse_event
from components import ids
from testkit.app import upstream_env
from testkit.browser import browser, wait_for_markdown
from testkit.gunicorn_app import GunicornApp
from testkit.upstream import Script, ScriptedUpstream
from testkit.waiting import wait_until
from web.api import gzip_events

TURNS = (1, 10, 50)
# The original's answers were ~280 characters; this one repeats itself, which flatters gzip a little.
ANSWER = "这是一个约 280 个字符的回答。" * 6 + "Here is a typical answer with some English words in it. " * 3
# A typical chat answer: ~1,100 characters of Chinese and English prose with Markdown and a code block.
TYPICAL_ANSWER = """在 Python 里反转列表有三种常用写法，区别在于是否修改原列表、是否产生新对象：

1. **切片** `items[::-1]`：返回一个新列表，原列表不变。写法最短，适合需要保留原顺序的场景。
2. **`list.reverse()`**：原地反转，返回 `None`，不额外占用内存。注意不要写成 `items = items.reverse()`，那样会把变量变成 `None`。
3. **`reversed(items)`**：返回一个迭代器，只在遍历时按倒序取值，适合大列表或只需要遍历一次的情况。

```python
numbers = [3, 1, 4, 1, 5, 9, 2, 6]

copy = numbers[::-1]          # 新列表: [6, 2, 9, 5, 1, 4, 1, 3]
numbers.reverse()             # 原地修改 numbers
for n in reversed(copy):      # 不复制，逐个倒序读取
    print(n, end=" ")
```

Which one should you pick? If other code still holds a reference to the original list, prefer slicing so nothing \
changes under its feet. For a list with millions of items, `reversed()` avoids allocating a second copy, and \
`list.reverse()` is the fastest when you no longer need the old order. All three run in O(n) time; only slicing \
needs O(n) extra memory.

性能上，在一台普通笔记本上对一百万个整数测试：`reverse()` 约 1 毫秒，切片约 4 毫秒（需要分配新列表），`reversed()` 创建\
本身几乎不耗时，但完整遍历一遍约 15 毫秒，因为每次取值都要经过迭代器。字符串和元组没有 `reverse()` 方法，同样可以用切片或 \
`reversed()`；反转字符串时常写作 `"".join(reversed(text))` 或直接 `text[::-1]`。

如果你要反转的是 NumPy 数组，用 `array[::-1]` 得到的是一个视图，不复制数据；需要独立副本时再调用 `.copy()`。"""
TYPICAL_TURNS = 3
# Paced like a real model, which sends one token (~4 characters of English, 1-2 of Chinese) every 10-40 ms: 4
# characters every 20 ms is ~50 tokens/s of English, a typical hosted model (the Chinese part comes a little faster
# than a model would send it). The pace matters: the app merges deltas that arrive close together, so an
# unpaced burst (BENCH_TOKEN_SECONDS=0) would flatter it.
TOKEN_CHARS = int(os.environ.get("BENCH_TOKEN_CHARS", "4"))
TOKEN_SECONDS = float(os.environ.get("BENCH_TOKEN_SECONDS", "0.02"))


def network_events(driver):
    """Network.* events logged since the last call."""
    return [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")
            if '"Network.' in entry["message"]]


def turn_bytes(events):
    """(request bytes sent, response bytes received, response header bytes received, requests) of every
    request in these events, headers included."""
    sent = received = headers = requests = 0
    for event in events:
        params = event.get("params", {})
        if event["method"] == "Network.requestWillBeSent":
            request = params["request"]
            requests += 1
            sent += len(request.get("postData", "").encode()) + sum(len(k) + len(v) + 4
                                                                    for k, v in request["headers"].items())
        elif event["method"] == "Network.responseReceived":
            headers += params["response"].get("encodedDataLength", 0)  # the status line and headers
        elif event["method"] == "Network.loadingFinished":
            received += params["encodedDataLength"]
    return sent, received, headers, requests


def ask(driver, turn):
    """Send question `turn` of the conversation on screen and wait until its answer is done."""
    box = driver.find_element("css selector", f"#{ids.INPUT}")
    box.send_keys(f"question {turn}")
    box.send_keys(Keys.ENTER)
    wait_until(lambda: driver.execute_script(
        "const a = document.querySelectorAll(\".chat-message[data-role='assistant']\");"
        f" return a.length === {turn} && a[{turn - 1}].dataset.status === 'done'"), 60, f"answer {turn}")


def row(label, upstream, answer, events):
    """One table row from the network events of one turn."""
    sent, received, headers, requests = turn_bytes(events)
    history = json.dumps(upstream.requests[-1]["body"]["messages"], ensure_ascii=False).encode()
    answer = len(answer.encode())
    return [label, len(history), sent, sent - len(history), answer, received, headers, received - headers, requests,
            f"{(received - answer) / answer * 100:.0f} %"]


def body_bytes(answer, characters_per_chunk):
    """Response body bytes (gzip and HTTP chunk framing) if the answer went out in chunks of this many characters,
    built by the app's own SSE and gzip code."""
    events = [sse_event({"id": "chatcmpl-" + "0" * 24, "object": "chat.completion.chunk", "created": 1800000000,
                         "model": "scripted", "choices": [{"index": 0, "delta": {"content": answer[i:i + characters_per_chunk]},
                                                           "finish_reason": None}]})
              for i in range(0, len(answer), characters_per_chunk)] + [DONE_EVENT]
    return sum(len(f"{len(write):x}\r\n\r\n") + len(write) for write in gzip_events(e for e in events)) + len("0\r\n\r\n")


def merge_window_rows(header_bytes):
    """What longer merge windows would save, at this benchmark's pace (computed, not streamed)."""
    rows = []
    for window_ms in (40, 100, 200, 400):
        per_chunk = max(TOKEN_CHARS, round(window_ms / (TOKEN_SECONDS * 1000)) * TOKEN_CHARS)
        row = [window_ms, per_chunk]
        for answer in (ANSWER, TYPICAL_ANSWER):
            size = len(answer.encode())
            row.append(f"{(header_bytes + body_bytes(answer, per_chunk) - size) / size * 100:.0f} %")
        rows.append(row)
    return rows


def main():
    """Ask 50 questions in one conversation (turns 1, 10 and 50 shown), then a few typical answers in a new one."""
    rows = []
    with ScriptedUpstream() as upstream, GunicornApp(upstream_env(upstream)) as app:
        upstream.script = Script(reply=ANSWER, chunk_chars=TOKEN_CHARS, delay=TOKEN_SECONDS)
        driver = browser()
        try:
            driver.get(app.url)
            wait_until(lambda: driver.find_elements("css selector", f"#{ids.INPUT}"), 30, "the page")
            wait_for_markdown(driver)
            time.sleep(1)  # let the first load's requests finish before counting
            network_events(driver)
            for turn in range(1, max(TURNS) + 1):
                ask(driver, turn)
                events = network_events(driver)
                if turn in TURNS:
                    rows.append(row(f"{turn} ({len(ANSWER)}-character answers)", upstream, ANSWER, events))
            upstream.script = Script(reply=TYPICAL_ANSWER, chunk_chars=TOKEN_CHARS, delay=TOKEN_SECONDS)
            driver.find_element("css selector", f"#{ids.NEW_CHAT}").click()
            network_events(driver)
            for turn in range(1, TYPICAL_TURNS + 1):
                ask(driver, turn)
                rows.append(row(f"{turn} ({len(TYPICAL_ANSWER)}-character answers)", upstream, TYPICAL_ANSWER,
                                network_events(driver)))
        finally:
            driver.quit()
    print_table(f"Browser traffic per turn (bytes; multi-turn on, the upstream sends {TOKEN_CHARS} characters every "
                f"{TOKEN_SECONDS * 1000:.0f} ms)", rows,
                ["turn", "history the model needs", "page sent", "sent - history", "answer", "page received",
                 "of which response headers", "response bodies", "requests", "received over answer"])
    print_table("Response over the answer if deltas were merged for longer (a chunk every window; computed with the "
                f"app's SSE and gzip code and {rows[-1][6]} B of headers; the app merges for 40 ms)",
                merge_window_rows(rows[-1][6]),
                ["merge window (ms)", "characters per chunk", f"{len(ANSWER)}-character answer",
                 f"{len(TYPICAL_ANSWER)}-character answer"])


if __name__ == "__main__":
    main()
