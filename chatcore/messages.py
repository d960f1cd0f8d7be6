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
# A model's token count for one image, as the context budget counts it (OpenAI: 85 + 170 per 512 px tile, so
# about 1,100 for a 2048×1536 image in high detail; other backends are in the same range).
IMAGE_TOKENS = 1000
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


def content_text(content) -> str:
    """The text of a message's content: the string itself, or its text parts joined."""
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content if part.get("type") == "text")


def image_count(content) -> int:
    """How many image parts a message's content has."""
    return 0 if isinstance(content, str) else sum(1 for part in content if part.get("type") == "image_url")


def content_tokens(content) -> int:
    """Tokens of a message's content: its text, and IMAGE_TOKENS per image (never the image's base64 size)."""
    return estimate_tokens(content_text(content)) + IMAGE_TOKENS * image_count(content)


def without_images(content):
    """The content with its images replaced by a short note (for a model that takes none)."""
    if not image_count(content):
        return content
    return content_text(content) + "\n[An image was attached here; this model does not take images.]"


def _message_tokens(message: dict) -> int:
    """Tokens of one message, with the few tokens chat templates add around it."""
    return content_tokens(message["content"]) + 4


def clean_text(text: str) -> str:
    """Drop control characters that are never meaningful in a chat message."""
    return _CONTROL_CHARS.sub("", text)


def _parse_content(content, i):
    """A message's content: a string, or OpenAI content parts. Parts with no image are joined into a string (as
    always: backends that take only strings keep working); with images, text and image_url parts are kept."""
    if not isinstance(content, list):
        if not isinstance(content, str):
            raise bad_request("invalid_messages", f"messages[{i}].content must be a string.")
        return clean_text(content)
    parts = []
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            continue  # as before: anything but a text part is left out
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": clean_text(part["text"])})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            if url is None:
                continue  # as before: a part with no image is left out
            if not isinstance(url, str) or not url.startswith(("data:image/", "https://", "http://")):
                raise bad_request("invalid_messages", f"messages[{i}].content[{j}].image_url.url must be a "
                                                      "data:image/… URL or an http(s) URL.")
            detail = image.get("detail")
            parts.append({"type": "image_url", "image_url": {"url": url} | (
                {"detail": detail} if detail in ("auto", "low", "high") else {})})
    if not image_count(parts):
        return "".join(part["text"] for part in parts)
    return parts


def parse_request(body, models, default_model, max_input_chars, allow_empty_question=False) -> ChatRequest:
    """Validate an OpenAI-style request body; raise ChatError(4xx) naming the bad field. `allow_empty_question`:
    the question has files attached (they are added later), so its text may be empty."""
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
        messages.append({"role": message["role"], "content": _parse_content(message.get("content"), i)})

    question = messages[-1]
    if question["role"] != "user":
        raise bad_request("invalid_messages", "The last message must be the user's question.")
    text = content_text(question["content"])
    if not text.strip() and not image_count(question["content"]) and not allow_empty_question:
        raise bad_request("empty_question", "The question is empty.")
    if len(text) > max_input_chars:
        raise bad_request("input_too_long", f"The question has {len(text)} characters; the limit is {max_input_chars}.")

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
