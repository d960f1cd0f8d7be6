"""Unit tests of request validation, the system prompt and context trimming."""

import pytest

from chatcore.errors import ChatError
from chatcore.messages import estimate_tokens, parse_request, trim_to_budget, with_system_prompt

MODELS = ("a", "b")


def parse(body, max_chars=100):
    """parse_request with this file's allowlist."""
    return parse_request(body, MODELS, "a", max_chars)


def test_defaults_to_the_default_model_and_non_streaming():
    request = parse({"messages": [{"role": "user", "content": "hi"}]})
    assert (request.model, request.stream, request.messages) == ("a", False, [{"role": "user", "content": "hi"}])


def test_content_parts_keep_their_text():
    request = parse({"messages": [{"role": "user", "content": [{"type": "text", "text": "he"},
                                                              {"type": "image_url", "image_url": {}},
                                                              {"type": "text", "text": "llo"}]}]})
    assert request.messages[-1]["content"] == "hello"


@pytest.mark.parametrize("body,code", [
    ({"messages": [{"role": "user", "content": "x"}], "model": "c"}, "model_not_found"),
    ({"messages": [{"role": "assistant", "content": "x"}]}, "invalid_messages"),
    ({"messages": [{"role": "user", "content": "\x00\x01 "}]}, "empty_question"),
    ({"messages": [{"role": "user", "content": "x" * 101}]}, "input_too_long"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "invalid_max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": True}, "invalid_temperature"),
    ({"messages": [{"role": "user", "content": "x"}], "api_key": "steal"}, "unknown_field"),
])
def test_invalid_requests_name_the_problem(body, code):
    with pytest.raises(ChatError) as info:
        parse(body)
    assert info.value.code == code
    assert 400 <= info.value.status < 500


def test_system_prompt_is_added_once():
    messages = [{"role": "user", "content": "q"}]
    assert with_system_prompt(messages, "be brief")[0] == {"role": "system", "content": "be brief"}
    own = [{"role": "system", "content": "mine"}, *messages]
    assert with_system_prompt(own, "be brief") == own
    assert with_system_prompt(messages, "") == messages


def test_token_estimate_counts_chinese_per_character():
    assert estimate_tokens("你好世界") == 5  # 4 characters + 1
    assert estimate_tokens("abcdefgh") == 3  # 8 / 4 + 1


def turns(n):
    """n question/answer pairs of 40 characters each, then a question."""
    out = []
    for i in range(n):
        out += [{"role": "user", "content": f"q{i:02d}" + "x" * 37}, {"role": "assistant", "content": f"a{i:02d}" + "y" * 37}]
    return out + [{"role": "user", "content": "last question"}]


def test_trim_keeps_everything_that_fits():
    messages = [{"role": "system", "content": "sys"}, *turns(3)]
    assert trim_to_budget(messages, 10_000) == (messages, 0)


def test_trim_drops_the_oldest_turns_and_keeps_system_and_question():
    messages = [{"role": "system", "content": "sys"}, *turns(10)]
    trimmed, dropped = trim_to_budget(messages, 80)
    assert trimmed[0] == {"role": "system", "content": "sys"}
    assert trimmed[-1] == {"role": "user", "content": "last question"}
    assert dropped > 0 and len(trimmed) == len(messages) - dropped
    kept = trimmed[1:-1]
    assert kept == messages[len(messages) - 1 - len(kept):-1]  # the newest turns survive
    assert kept[0]["role"] == "user"  # never an answer without its question


def test_a_question_too_long_for_the_window_is_refused():
    with pytest.raises(ChatError) as info:
        trim_to_budget([{"role": "user", "content": "z" * 4000}], 100)
    assert info.value.code == "context_too_long"
