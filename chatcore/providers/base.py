"""The provider interface: one streaming generator of answer and reasoning deltas ending with a Finish."""

from dataclasses import dataclass


class Reasoning(str):
    """A delta of the model's reasoning ("thinking"); plain str deltas are the answer itself."""

    __slots__ = ()


@dataclass
class Finish:
    """The end of an answer: why it ended (None when the stream was cut) and token usage if known."""

    reason: str | None
    usage: dict | None = None


class Provider:
    """A model backend. Subclasses build their client lazily, on the first request, never at import."""

    name = "base"
    vision = True  # takes images (OpenAI image_url parts); a providers file can say otherwise per model

    def stream(self, request):
        """Yield str answer deltas and Reasoning deltas, then exactly one Finish. Closing stops generation."""
        raise NotImplementedError

    def health(self) -> tuple[bool, str]:
        """(ready, short reason) without contacting the model; used by /healthz."""
        return True, "ok"

    def start(self):
        """Start what the provider runs in the background, in the process that serves (nothing here)."""
