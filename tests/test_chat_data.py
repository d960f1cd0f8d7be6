"""Unit tests of the pure conversation logic in assets/chat_data.js, run in headless chromium (the engine that runs
it for users) on a blank page: the file needs no app, so one browser serves the whole module."""

import json
from pathlib import Path

import pytest

from testkit.browser import browser

CHAT_DATA = Path(__file__).resolve().parent.parent / "assets" / "chat_data.js"


@pytest.fixture(scope="module")
def driver():
    """One headless chromium on a blank page with the real assets/chat_data.js loaded."""
    chromium = browser()
    chromium.execute_script(CHAT_DATA.read_text(encoding="utf-8"))
    yield chromium
    chromium.quit()


@pytest.fixture(scope="module")
def js(driver):
    """Call window.chatData.<name>(*args); return the JSON result ({ok} or {error, detail})."""

    def call(name, *args):
        return driver.execute_script(
            "const [name, args] = arguments; try { return {ok: window.chatData[name](...args)}; }"
            " catch (e) { return {error: e.code || e.message, detail: e.detail}; }", name, list(args))
    return call


def conversation(cid="c-1", title="T", messages=None):
    """A minimal valid conversation."""
    return {"id": cid, "title": title, "createdAt": 1, "updatedAt": 2,
            "messages": messages if messages is not None else [{"role": "user", "content": "q"},
                                                               {"role": "assistant", "content": "a", "status": "done"}]}


def export_text(conversations, **overrides):
    """An export file's text in the app's format."""
    doc = {"format": "chat-app-conversations", "version": 1, "exportedAt": "2026-11-24T00:00:00Z",
           "conversations": conversations}
    doc.update(overrides)
    return json.dumps(doc, ensure_ascii=False)


def test_titles_token_estimates_and_search(js):
    assert js("autoTitle", "  What is Dash?\nmore")["ok"] == "What is Dash?"
    assert js("autoTitle", "\n\n## 帮我写一份周报   本周完成了很多工作")["ok"] == "帮我写一份周报 本周完成了很多工作"
    assert js("autoTitle", "x" * 40)["ok"] == "x" * 30 + "…"
    assert js("autoTitle", "😀" * 31)["ok"] == "😀" * 30 + "…"  # counted in characters, not UTF-16 units
    assert js("estimateTokens", "你好世界")["ok"] == 4 + 0 + 1
    assert js("estimateTokens", "abcdefgh")["ok"] == 2 + 1
    found = js("search", [conversation("a", "Alpha"), conversation("b", "Beta", [{"role": "user", "content": "GAMMA ray"}])],
               "gamma")["ok"]
    assert [c["id"] for c in found] == ["b"]
    assert len(js("search", [conversation("a"), conversation("b")], "  ")["ok"]) == 2


def test_context_selection(js):
    history = [{"role": "user", "content": f"q{i}"} if i % 2 == 0 else {"role": "assistant", "content": f"a{i}"}
               for i in range(8)]  # four answered turns
    assert js("contextFor", history, False, 20)["ok"] == []
    assert [m["content"] for m in js("contextFor", history, True, 20)["ok"]] == [f"{r}{i}" for i, r in
                                                                                 zip(range(8), "qaqaqaqa")]
    assert [m["content"] for m in js("contextFor", history, True, 2)["ok"]] == ["q4", "a5", "q6", "a7"]
    # A failed (empty) answer and its question are not sent; the pending question at the end is not either.
    gaps = [{"role": "user", "content": "q0"}, {"role": "assistant", "content": ""},
            {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a3"}, {"role": "user", "content": "q4"}]
    assert [m["content"] for m in js("contextFor", gaps, True, 20)["ok"]] == ["q2", "a3"]


def test_import_accepts_exports_and_names_what_is_wrong(js):
    good = [conversation("c-1", "一"), conversation("c-2", "two")]
    assert js("parseExport", export_text(good))["ok"] == good
    exported = js("exportDocument", good, 0)["ok"]
    assert js("parseExport", json.dumps(exported))["ok"] == good  # export → import is lossless
    assert js("parseExport", "{not json")["error"] == "import_not_json"
    assert js("parseExport", json.dumps([1, 2]))["error"] == "import_bad_format"
    assert js("parseExport", export_text(good, format="other-app"))["detail"] == "format"
    assert js("parseExport", export_text(good, version=2)) == {"error": "import_too_new", "detail": "2"}
    assert js("parseExport", export_text([]))["error"] == "import_empty"
    bad_role = conversation(messages=[{"role": "tool", "content": "x"}])
    assert js("parseExport", export_text([good[0], bad_role]))["detail"] == "conversations[1].messages[0].role"
    assert js("parseExport", export_text([conversation(messages=[{"role": "user", "content": 5}])]))["detail"] == \
        "conversations[0].messages[0].content"
    assert js("parseExport", export_text([dict(conversation(), id="")]))["detail"] == "conversations[0].id"


def test_merging_an_import_never_overwrites(js):
    existing = [conversation("c-1", "mine")]
    added = js("mergeImported", existing, [conversation("c-1", "mine"), conversation("c-1", "theirs"),
                                           conversation("c-9", "new")])["ok"]
    assert [c["title"] for c in added] == ["theirs", "new"]  # the identical one is skipped
    assert added[0]["id"] != "c-1" and added[1]["id"] == "c-9"  # a clash gets a new id


def test_the_reasoning_of_an_answer_is_imported_with_it_and_checked(js):
    thinking = conversation(messages=[{"role": "user", "content": "q"},
                                      {"role": "assistant", "content": "a", "reasoning": "think", "status": "done"}])
    assert js("parseExport", export_text([thinking]))["ok"] == [thinking]
    thinking["messages"][1]["reasoning"] = 5
    assert js("parseExport", export_text([thinking]))["detail"] == "conversations[0].messages[1].reasoning"


def test_the_reasoning_is_never_sent_back_to_the_model(js):
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning": "think"}]
    assert js("contextFor", history + [{"role": "user", "content": "q2"}], True, 20)["ok"] == [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]


SAMPLES = ["", "hello", "你好，世界", "mixed 中文 and English text, 123!", "🙂 emoji", "x" * 4001, "한국어 テキスト"]


def test_the_token_estimate_is_the_same_rule_in_python_and_javascript(js):
    from chatcore.messages import estimate_tokens

    assert [js("estimateTokens", text)["ok"] for text in SAMPLES] == [estimate_tokens(text) for text in SAMPLES]


def test_auto_titles_are_the_same_rule_on_the_server_and_in_the_page(js):
    from chatcore.store.conversations import auto_title

    questions = ["## 长城有多长？\nmore", "   \n> quoted *first* line", "x" * 45, "`code` question", "a\tb  c"]
    assert [js("autoTitle", q)["ok"] for q in questions] == [auto_title(q) for q in questions]


def test_the_link_rule_is_the_same_in_python_and_in_the_pages_markdown(driver):
    from chatcore.export import safe_link
    from components.message_list import SAFE_LINK_FUNC

    hrefs = ["https://x.org", "http://x", "mailto:a@b.c", "#top", "./a", "/b", "c.html", "javascript:1",
             " JavaScript:1", "java\tscript:1", "data:text/html,x", "vbscript:1", "file:///etc/passwd", "ftp://x"]
    page = [driver.execute_script(f"return ({SAFE_LINK_FUNC})(arguments[0])", href) for href in hrefs]
    assert page == [href if safe_link(href) else "#blocked-link" for href in hrefs]
