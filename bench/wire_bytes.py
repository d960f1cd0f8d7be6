"""Wire bytes per turn, measured in a real browser: what the page sends and receives for turn 1, 10 and 50
of one conversation (multi-turn on), next to the bytes the model needs (the history) and the answer's own
bytes. The original app re-sent the whole rendered conversation every turn (160 KB each way at turn 20).
"""

import json
import os
import time

from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from bench.common import print_table
from tests.conftest import upstream_env
from tests.gunicorn_runner import GunicornApp
from tests.scripted_upstream import Script, ScriptedUpstream
from tests.waiting import wait_until

TURNS = (1, 10, 50)
ANSWER = "这是一个约 280 个字符的回答。" * 6 + "Here is a typical answer with some English words in it. " * 3
# Paced like a real model, which sends one token (~4 characters of English, 1-2 of Chinese) every 10-40 ms: 4
# characters every 20 ms is ~50 tokens/s of English, a typical hosted model (the Chinese part comes a little faster
# than a model would send it). The pace matters: the app merges deltas that arrive close together, so an
# unpaced burst (BENCH_TOKEN_SECONDS=0) would flatter it.
TOKEN_CHARS = int(os.environ.get("BENCH_TOKEN_CHARS", "4"))
TOKEN_SECONDS = float(os.environ.get("BENCH_TOKEN_SECONDS", "0.02"))


def browser():
    """Headless Debian chromium with network events in its performance log."""
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(options=options)


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


def main():
    """Ask 50 questions in one conversation; print the bytes of turns 1, 10 and 50."""
    rows = []
    with ScriptedUpstream() as upstream, GunicornApp(upstream_env(upstream)) as app:
        upstream.script = Script(reply=ANSWER, chunk_chars=TOKEN_CHARS, delay=TOKEN_SECONDS)
        driver = browser()
        try:
            driver.get(app.url)
            wait_until(lambda: driver.find_elements("css selector", "#chat-input"), 30, "the page")
            time.sleep(1)  # let the first load's requests finish before counting
            network_events(driver)
            for turn in range(1, max(TURNS) + 1):
                box = driver.find_element("css selector", "#chat-input")
                box.send_keys(f"question {turn}")
                box.send_keys(Keys.ENTER)
                wait_until(lambda: driver.execute_script(
                    "const a = document.querySelectorAll(\".chat-message[data-role='assistant']\");"
                    f" return a.length === {turn} && a[{turn - 1}].dataset.status === 'done'"), 30, f"answer {turn}")
                sent, received, headers, requests = turn_bytes(network_events(driver))
                if turn in TURNS:
                    history = json.dumps(upstream.requests[-1]["body"]["messages"], ensure_ascii=False).encode()
                    answer = len(ANSWER.encode())
                    rows.append([turn, len(history), sent, sent - len(history), answer, received, headers,
                                 received - headers, requests, f"{(received - answer) / answer * 100:.0f} %"])
        finally:
            driver.quit()
    print_table(f"Browser traffic per turn (bytes; multi-turn on, {len(ANSWER)}-character answers, the upstream "
                f"sends {TOKEN_CHARS} characters every {TOKEN_SECONDS * 1000:.0f} ms)", rows,
                ["turn", "history the model needs", "page sent", "sent - history", "answer", "page received",
                 "of which response headers", "response bodies", "requests", "received over answer"])


if __name__ == "__main__":
    main()
