"""Keep secrets out of logs: a logging filter that masks configured values in every record."""

import logging


class RedactingFilter(logging.Filter):
    """Replace each secret in a record's final message with '***' (never drops the record)."""

    def __init__(self, secrets):
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record):
        """Mask secrets in the formatted message; args are folded in so they cannot reintroduce one."""
        if not self._secrets:
            return True
        message = record.getMessage()
        for secret in self._secrets:
            message = message.replace(secret, "***")
        record.msg, record.args = message, None
        return True


def install(secrets):
    """Attach the filter to every handler configured so far (root, gunicorn's and werkzeug's loggers)."""
    redactor = RedactingFilter(secrets)
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if redactor not in handler.filters:
                handler.addFilter(redactor)
    return redactor
