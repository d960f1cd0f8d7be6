"""Validate a chat request and build the message list the model sees (system prompt, context trim)."""

import re
from dataclasses import dataclass

from .errors import ChatError, bad_request

ROLES = ("system", "user", "assistant")
# Fields of the OpenAI request we honour; other known OpenAI fields are accepted and ignored.
KNOWN_FIELDS = {
    "model", "messages", "stream", "stream_options", "temperature", "max_tokens", "max_completion_tokens",
    "top_p", "n", "stop", "presence_penalty", "frequency_penalty", "user", "seed", "logit_bias",
    "response_format", "parallel_tool_calls", "store", "metadata",
}
# C0/C1 control characters except tab, newline and carriage return: they break some backends' templates.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


@dataclass
class ChatRequest:
    """A validated request: what the provider needs to answer one turn."""

    model: str
    messages: list
    stream: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    include_usage: bool = False
    trimmed_messages: int = 0


def estimate_tokens(text: str) -> int:
    """Rough token count without a tokenizer: one per CJK character, one per 4 other characters."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4 + 1


def _message_tokens(message: dict) -> int:
    """Tokens of one message, with the few tokens chat templates add around it."""
    return estimate_tokens(message["content"]) + 4


def clean_text(text: str) -> str:
    """Drop control characters that are never meaningful in a chat message."""
    return _CONTROL_CHARS.sub("", text)


def parse_request(body, models, default_model, max_input_chars) -> ChatRequest:
    """Validate an OpenAI-style request body; raise ChatError(4xx) naming the bad field."""
    if not isinstance(body, dict):
        raise bad_request("invalid_json", "The request body must be a JSON object.")
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise bad_request("unknown_field", f"Unknown field(s): {', '.join(unknown)}.")

    model = body.get("model") or default_model
    if not isinstance(model, str):
        raise bad_request("invalid_model", "'model' must be a string.")
    if model not in models:
        raise ChatError(404, "model_not_found", f"Model {model!r} is not offered here. Available: {', '.join(models)}.")

    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise bad_request("invalid_messages", "'messages' must be a non-empty list.")
    messages = []
    for i, message in enumerate(raw_messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise bad_request("invalid_messages", f"messages[{i}] must have a role of {', '.join(ROLES)}.")
        content = message.get("content")
        if isinstance(content, list):  # OpenAI "content parts": keep the text parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if not isinstance(content, str):
            raise bad_request("invalid_messages", f"messages[{i}].content must be a string.")
        messages.append({"role": message["role"], "content": clean_text(content)})

    question = messages[-1]
    if question["role"] != "user":
        raise bad_request("invalid_messages", "The last message must be the user's question.")
    if not question["content"].strip():
        raise bad_request("empty_question", "The question is empty.")
    if len(question["content"]) > max_input_chars:
        raise bad_request("input_too_long",
                          f"The question has {len(question['content'])} characters; the limit is {max_input_chars}.")

    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_request("invalid_stream", "'stream' must be true or false.")
    temperature = body.get("temperature")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
                                    or not 0 <= temperature <= 2):
        raise bad_request("invalid_temperature", "'temperature' must be a number from 0 to 2.")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise bad_request("invalid_max_tokens", "'max_tokens' must be a positive integer.")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise bad_request("invalid_stream_options", "'stream_options' must be an object.")

    return ChatRequest(model=model, messages=messages, stream=stream, temperature=temperature,
                       max_tokens=max_tokens, include_usage=bool(stream_options.get("include_usage")))


def with_system_prompt(messages: list, system_prompt: str) -> list:
    """Prepend the server's system prompt unless the caller already sent one."""
    if not system_prompt or any(m["role"] == "system" for m in messages):
        return messages
    return [{"role": "system", "content": system_prompt}, *messages]


def trim_to_budget(messages: list, budget_tokens: int) -> tuple[list, int]:
    """Drop the oldest turns until the estimate fits; keep system messages and the question.

    Returns (messages, how many were dropped). Raises ChatError when even the question alone does not fit.
    """
    pinned = [m for m in messages if m["role"] == "system"]
    question = messages[-1]
    history = [m for m in messages[:-1] if m["role"] != "system"]
    used = sum(_message_tokens(m) for m in pinned) + _message_tokens(question)
    if used > budget_tokens:
        raise bad_request("context_too_long", "The question is too long for this model's context window.")
    kept = []
    for message in reversed(history):
        cost = _message_tokens(message)
        if used + cost > budget_tokens:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    # Never start the history with an orphaned answer: the model would read it without its question.
    while kept and kept[0]["role"] == "assistant":
        kept.pop(0)
    return [*pinned, *kept, question], len(history) - len(kept)
