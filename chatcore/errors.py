"""Errors of the chat path, each with an HTTP status and a stable code the page localizes."""


class ChatError(Exception):
    """An error safe to show: a status, an OpenAI-style type and code, and a short English message."""

    def __init__(self, status, code, message, error_type="invalid_request_error", retry_after=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error_type = error_type
        self.retry_after = retry_after

    def to_dict(self) -> dict:
        """The OpenAI wire format: {"error": {"message", "type", "code"}}."""
        return {"error": {"message": self.message, "type": self.error_type, "code": self.code}}


def bad_request(code, message) -> ChatError:
    """A 400 for input the caller can fix."""
    return ChatError(400, code, message)


def upstream_error(status, code, message, retry_after=None) -> ChatError:
    """An error caused by the model backend, not by the caller."""
    return ChatError(status, code, message, error_type="upstream_error", retry_after=retry_after)


def from_upstream_exception(exc) -> ChatError:
    """Map an `openai` SDK (or its HTTP client's) exception to a ChatError, leaking no upstream body or key."""
    import httpx2
    import openai  # local imports: the core must stay importable without the SDK's start-up cost

    if isinstance(exc, httpx2.TimeoutException):
        return upstream_error(504, "upstream_timeout", "The model server stopped sending in time.")
    if isinstance(exc, httpx2.TransportError):  # e.g. the connection dropped inside a chunked body
        return upstream_error(502, "stream_interrupted", "The answer was cut off before it finished.")
    if isinstance(exc, openai.APITimeoutError):
        return upstream_error(504, "upstream_timeout", "The model server did not answer in time.")
    if isinstance(exc, openai.APIConnectionError):
        return upstream_error(502, "upstream_unreachable", "Cannot connect to the model server.")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (401, 403):
            return upstream_error(502, "upstream_auth_failed", "The model server rejected the configured API key.")
        if status == 404:
            return ChatError(404, "model_not_found", "The model server does not know this model.")
        if status == 429:
            retry_after = exc.response.headers.get("retry-after") if exc.response is not None else None
            return upstream_error(429, "upstream_rate_limited", "The model server is rate limiting requests.",
                                  retry_after=_seconds(retry_after))
        if 400 <= status < 500:
            return upstream_error(502, "upstream_rejected", f"The model server rejected the request ({status}).")
        return upstream_error(502 if status != 503 else 503, "upstream_server_error",
                              f"The model server failed ({status}).")
    if isinstance(exc, openai.APIError):  # an error event inside an SSE stream
        return upstream_error(502, "upstream_stream_error", "The model server reported an error during the answer.")
    return upstream_error(502, "upstream_bad_response", "The model server sent a response that could not be read.")


def _seconds(value):
    """Parse a Retry-After header given in seconds; dates and junk give None."""
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError):
        return None
