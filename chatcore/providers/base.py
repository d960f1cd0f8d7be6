"""The provider interface: one streaming generator of answer deltas ending with a Finish."""

from dataclasses import dataclass


@dataclass
class Finish:
    """The end of an answer: why it ended (None when the stream was cut) and token usage if known."""

    reason: str | None
    usage: dict | None = None


class Provider:
    """A model backend. Subclasses build their client lazily, on the first request, never at import."""

    name = "base"
    # Capabilities the service and /healthz read.
    supports_usage = False

    def stream(self, request):
        """Yield str deltas of the answer, then exactly one Finish. Closing the generator stops generation."""
        raise NotImplementedError

    def health(self) -> tuple[bool, str]:
        """(ready, short reason) without contacting the model; used by /healthz."""
        return True, "ok"
