"""Split a model's `<think>…</think>` reasoning from the start of its answer text, chunk by chunk."""

from .providers.base import Reasoning

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def _partial_suffix(text, tag):
    """Length of the longest end of `text` that could be the start of `tag` (held back until the next chunk)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Feed content deltas; get back answer text (str) and reasoning (Reasoning) in order.

    Ollama's Qwen3/DeepSeek-R1 and llama.cpp put the reasoning at the start of `content` inside a think tag.
    Tags may be split across chunks, so a possible partial tag is held back until the next chunk decides it.
    Only a tag at the very start (after whitespace) counts: a `<think>` later in an answer is answer text.
    """

    def __init__(self):
        self._state = "start"   # start: waiting to see whether the answer opens with the tag; think; answer
        self._held = ""         # text not emitted yet (a possible partial tag)
        self._trim = False      # drop the whitespace models put between the closing tag and the answer

    def feed(self, text):
        """The pieces of one content delta, as a list of str (answer) and Reasoning items."""
        text = self._held + text
        self._held = ""
        if self._state == "start":
            stripped = text.lstrip()
            if stripped.startswith(OPEN_TAG):
                self._state, text = "think", stripped[len(OPEN_TAG):]
            elif OPEN_TAG.startswith(stripped):
                self._held = text
                return []
            else:
                self._state = "answer"
        if self._state == "think":
            end = text.find(CLOSE_TAG)
            if end < 0:
                keep = _partial_suffix(text, CLOSE_TAG)
                self._held = text[len(text) - keep:] if keep else ""
                text = text[:len(text) - keep]
                return [Reasoning(text)] if text else []
            self._state, self._trim = "answer", True
            return [Reasoning(text[:end])] * bool(text[:end]) + self._answer(text[end + len(CLOSE_TAG):])
        return self._answer(text)

    def _answer(self, text):
        """Answer text, without the whitespace right after the closing tag."""
        if self._trim:
            text = text.lstrip()
            self._trim = not text
        return [text] if text else []

    def finish(self):
        """What is still held when the content ends (a stream cut inside the tag keeps its partial reasoning)."""
        held, self._held = self._held, ""
        if not held:
            return []
        return [Reasoning(held)] if self._state == "think" else [held]


def split_thinking(deltas):
    """A provider's deltas, with reasoning in a leading think tag of the answer text split out as Reasoning (the
    same for every provider: Ollama, llama.cpp and the embedded model put it there). Closing this closes `deltas`."""
    from .providers.base import Finish

    splitter = ThinkSplitter()
    try:
        for item in deltas:
            if type(item) is str:  # answer text (Reasoning is a str subclass: already split)
                yield from splitter.feed(item)
                continue
            if isinstance(item, Finish):
                yield from splitter.finish()
            yield item
        yield from splitter.finish()
    finally:
        deltas.close()  # on Stop: the provider closes its upstream request (or its model stops) now
