"""Every configured provider behind one allowlist: model ids, which backend serves each, and their health."""

import logging
import os
import threading
from time import monotonic

from ..errors import ChatError

log = logging.getLogger("chat")

# How long a model list read from a backend's /models is trusted, and how soon a failed read is tried again.
REFRESH_SECONDS = 300.0
RETRY_SECONDS = 30.0


class ProviderEntry:
    """One provider with its model list: fixed in the settings, or read from the backend ("auto")."""

    def __init__(self, name, provider, models=None, vision=None):
        self.name = name
        self.provider = provider
        # True/False for every model, or the names of those that take images; unset: what the provider can do.
        self.vision = getattr(provider, "vision", True) if vision is None else vision
        self.auto = models is None
        self.models = tuple(models or ())
        self.state = "starting" if self.auto else "ok"
        self._next_read = 0.0   # monotonic time the "auto" list is due to be read again
        self._reading = False
        self._pid = None
        self._lock = threading.Lock()

    def refresh_if_due(self):
        """Read the "auto" list in the background when it is due; callers never wait for a backend.

        A background thread, not a real OS thread (chatcore/os_thread.py): the read is I/O, so under gevent the
        patched `threading` runs it as a greenlet, which is what gevent wants. Per process (a read started
        before a fork does not go on in the child), so a forked worker starts its own.
        """
        if not self.auto:
            return
        with self._lock:
            if self._pid == os.getpid() and (self._reading or monotonic() < self._next_read):
                return
            self._pid, self._reading = os.getpid(), True
        threading.Thread(target=self._read, name=f"models-{self.name}", daemon=True).start()

    def _read(self):
        """Fetch the model list; a backend that is down keeps its last list and is marked unavailable."""
        try:
            models = tuple(self.provider.list_models())
            self.models, self.state, wait = models, "ok" if models else "unavailable", REFRESH_SECONDS
        except Exception as exc:  # any failure: logged by type only (no URL, no body)
            log.warning("model list of provider %s unavailable: %s", self.name, type(exc).__name__)
            self.state, wait = "unavailable", RETRY_SECONDS
        with self._lock:
            self._next_read, self._reading = monotonic() + wait, False

    def takes_images(self, model) -> bool:
        """Whether this provider's `model` (the backend's own name) takes images."""
        return model in self.vision if isinstance(self.vision, tuple) else bool(self.vision)

    def health(self):
        """This provider's state for /healthz: name, status and how many models it offers (no URL, no key)."""
        ready, reason = self.provider.health()
        state = {"name": self.name, "status": self.state if ready else "unavailable", "models": len(self.models)}
        return state if ready else {**state, "reason": reason}


class ProviderSet:
    """The server-side allowlist: a model id names one provider's model, and nothing else can pick a backend.

    Ids are `provider/model` when `prefixed` (a providers file), else the bare model names (one provider).
    """

    def __init__(self, entries, default_model="", prefixed=False):
        self.entries = list(entries)
        self.prefixed = prefixed
        self._default = default_model
        self._started_in = None  # the pid of the process that started the providers

    def start(self):
        """Start this process's background work: the embedded model's load, the first reads of "auto" lists."""
        self._started_in = os.getpid()
        for entry in self.entries:
            entry.provider.start()
        self.refresh()

    def refresh(self):
        """Start the due background reads of "auto" model lists, once start() was called in this process (a
        preloading gunicorn master builds the page once, and must leave every read to the workers it forks)."""
        if self._started_in != os.getpid():
            return
        for entry in self.entries:
            entry.refresh_if_due()

    def _id(self, entry, model):
        """The id clients use for one provider's model."""
        return f"{entry.name}/{model}" if self.prefixed else model

    def models(self):
        """(model id, provider name) of every model offered now, in the settings' order."""
        self.refresh()
        return [(self._id(entry, model), entry.name) for entry in self.entries for model in entry.models]

    def default_model(self):
        """The configured default, else the first model offered now ('' while none is known)."""
        models = self.models()
        return self._default or (models[0][0] if models else "")

    def _find(self, model_id):
        """(entry, the backend's own model name) for an offered id; a 404 ChatError otherwise."""
        for entry in self.entries:
            for model in entry.models:
                if self._id(entry, model) == model_id:
                    return entry, model
        raise ChatError(404, "model_not_found", f"Model {model_id!r} is not offered here.")

    def resolve(self, model_id):
        """(provider, the backend's own model name) for an offered id; a 404 ChatError otherwise."""
        entry, model = self._find(model_id)
        return entry.provider, model

    def takes_images(self, model_id) -> bool:
        """Whether the offered model takes images (the providers file's `vision`; never the embedded model)."""
        entry, model = self._find(model_id)
        return entry.takes_images(model)

    def health(self):
        """(can serve, per-provider states): serving while at least one provider is ok."""
        states = [entry.health() for entry in self.entries]
        return any(s["status"] == "ok" and s["models"] for s in states), states
