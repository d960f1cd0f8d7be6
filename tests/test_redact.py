"""Unit tests of the log redaction filter."""

import logging

from chatcore.redact import RedactingFilter


def test_secrets_are_masked_in_message_and_arguments():
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "key=%s body=%r", ("sk-abc123", {"k": "sk-abc123"}), None)
    assert RedactingFilter(["sk-abc123", ""]).filter(record)
    assert record.getMessage() == "key=*** body={'k': '***'}"
