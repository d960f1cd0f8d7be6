"""HTTP routes: the OpenAI-compatible chat API (used by the page too), the model list and a health check."""

import logging
import zlib

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from chatcore import quotas
from chatcore.errors import ChatError, bad_request
from chatcore.service import DONE_EVENT
from chatcore.store import STORE_ERRORS

log = logging.getLogger("chat")
MAX_BODY_BYTES = 1024 * 1024  # a long conversation is far below this; a 10 MB body is refused unread


def error_response(error: ChatError):
    """An OpenAI-style JSON error with its status (and Retry-After when known)."""
    response = jsonify(error.to_dict())
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="chat"'
    return response


def json_body(allowed):
    """The request's JSON object, refusing fields outside `allowed` (a typo must not pass silently)."""
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise bad_request("invalid_json", "The request body must be a JSON object.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad_request("unknown_field", f"Unknown field(s): {', '.join(unknown)}.")
    return body


def not_found():
    """The one answer for ids that do not exist, are not ids, or belong to someone else."""
    return ChatError(404, "not_found", "Not found.")


def gzip_events(events):
    """Gzip an SSE stream write by write: each is flushed at once, so streaming stays incremental.

    Every chunk repeats the same OpenAI envelope around a few characters; with one deflate stream for the whole
    answer the repeats cost a few bytes each. A partial flush (an empty 10-bit block) makes everything so far
    decodable like a sync flush does, with fewer bytes per write; the write that ends with [DONE] ends the gzip
    stream too. memLevel 4 keeps each stream's compressor small for the same bytes on chat-sized answers
    (sizes in the README's performance section). (Flask-Compress would buffer the stream.)
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31, 4)  # wbits 31: gzip framing
    try:
        for event in events:
            if event.endswith(DONE_EVENT):
                yield compressor.compress(event) + compressor.flush(zlib.Z_FINISH)
                return
            yield compressor.compress(event) + compressor.flush(zlib.Z_PARTIAL_FLUSH)
        yield compressor.flush(zlib.Z_FINISH)
    finally:
        events.close()  # a client that goes away still closes the upstream request


def store_health(db) -> tuple[bool, str]:
    """(reachable, reason) for the database, with one trivial query."""
    try:
        with db.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True, "ok"
    except sa.exc.SQLAlchemyError as exc:
        return False, f"database unavailable ({type(exc).__name__})"


def create_blueprint(service, auth):
    """Build the routes around one ChatService; `auth` says who may call the model when AUTH is not none."""
    bp = Blueprint("api", __name__)
    settings = service.settings

    def start_counted(chat_request):
        """Count the answer against the user's limits, then start it (un-counted if the upstream refuses it)."""
        user = auth.require()
        event_id = quotas.reserve(auth.db, user["id"], chat_request.model,
                                  quotas.limits_for(auth.db, user["id"], settings))
        try:
            first, events = service.start(chat_request)
        except ChatError:
            quotas.release(auth.db, event_id)
            raise
        rest = quotas.counted(first, events, auth.db, event_id, chat_request.messages)
        return next(rest), rest

    @bp.get("/healthz")
    def healthz():
        """200 while the store and at least one provider can serve; each provider's state, never a URL or key."""
        ready, providers = service.providers.health()
        store_ready, store_reason = store_health(auth.db)
        body = {"status": "ok" if ready and store_ready else "unavailable", "backend": settings.backend_name,
                "store": "ok" if store_ready else "unavailable", "providers": providers}
        if not store_ready:
            body["reason"] = store_reason
        return jsonify(body), 200 if ready and store_ready else 503

    @bp.get("/v1/models")
    def models():
        """The allowlist of models, in OpenAI's list format, each owned by its provider."""
        data = [{"id": model, "object": "model", "created": 0, "owned_by": provider}
                for model, provider in service.providers.models()]
        return jsonify({"object": "list", "data": data})

    @bp.post("/v1/chat/completions")
    def chat_completions():
        """OpenAI chat completions, streamed as SSE when `stream` is true."""
        try:
            auth.require()  # the access code (AUTH=none), a signed-in session, or a personal API token
            # Refuse oversized bodies by their declared size, before reading them (and cap chunked ones).
            if (request.content_length or 0) > MAX_BODY_BYTES:
                raise ChatError(413, "body_too_large", f"The request body is over {MAX_BODY_BYTES} bytes.")
            request.max_content_length = MAX_BODY_BYTES
            body = request.get_json(force=True, silent=True)
            if body is None:
                raise bad_request("invalid_json", "The request body is not valid JSON (UTF-8).")
            chat_request = service.prepare(body)
            first, events = start_counted(chat_request)
        except ChatError as exc:
            return error_response(exc)
        if not chat_request.stream:
            try:
                return jsonify(service.complete(chat_request, first, events))
            except ChatError as exc:
                return error_response(exc)
        body = service.sse(chat_request, first, events)
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
        # SSE is always UTF-8 (the spec), so no charset parameter: 15 bytes less on every turn.
        response = Response(gzip_events(body) if gzipped else body, content_type="text/event-stream")
        # Every header here is paid on every turn (the answer itself may be a few hundred bytes): no Cache-Control,
        # as a POST response is never cached anyway, and the trim count only when there is one. (Vary:
        # Accept-Encoding still comes from Dash's Flask-Compress, which adds it to every response.)
        if gzipped:
            response.headers["Content-Encoding"] = "gzip"
        response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
        if chat_request.trimmed_messages:
            response.headers["X-Chat-Trimmed-Messages"] = str(chat_request.trimmed_messages)
        return response

    @bp.app_errorhandler(HTTPException)
    def http_error(exc):
        """OpenAI-style JSON for HTTP errors on the API routes; Dash's own pages are left alone."""
        if not request.path.startswith(("/v1/", "/api/")):
            return exc
        status = exc.code or 500
        codes = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 429: "rate_limited"}
        message = "Too many requests; slow down." if status == 429 else exc.description
        return error_response(ChatError(status, codes.get(status, "http_error"), message))

    @bp.app_errorhandler(Exception)
    def unexpected_error(exc):
        """Any bug becomes a generic 500 with no stack trace in the response (it is logged instead)."""
        if isinstance(exc, HTTPException):
            return exc
        if isinstance(exc, STORE_ERRORS):
            log.error("database unavailable on %s: %s", request.path, type(exc).__name__)
            return error_response(ChatError(503, "store_unavailable", "The conversation store is unavailable; "
                                            "nothing was changed. Try again shortly.", error_type="server_error"))
        log.exception("unexpected error on %s", request.path)
        return error_response(ChatError(500, "internal_error", "Internal error.", error_type="server_error"))

    return bp


def install_limits(server, settings):
    """Per-IP limits (Flask-Limiter): RATE_LIMIT on the chat route, and a brake on wrong access codes.

    Storage is RATE_LIMIT_STORAGE_URI: memory:// per process, or redis:// to hold across workers and instances.
    """
    if not (settings.rate_limit or settings.access_code):
        return None
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    limiter = Limiter(get_remote_address, app=server, storage_uri=settings.rate_limit_storage_uri,
                      default_limits=[], headers_enabled=True,
                      # If Redis goes away, keep serving with per-process limits rather than failing chats.
                      swallow_errors=True, in_memory_fallback_enabled=True)
    # The decorated view must replace the registered one: Flask-Limiter checks limits in its wrapper.
    if settings.rate_limit:  # asking in a conversation reaches the model too
        server.view_functions["generations.ask"] = limiter.limit(settings.rate_limit)(
            server.view_functions["generations.ask"])
    chat_view = server.view_functions["api.chat_completions"]
    if settings.rate_limit:
        chat_view = limiter.limit(settings.rate_limit)(chat_view)
    if settings.access_code:
        # Only failed attempts count: 10 wrong codes a minute from one IP and it is refused for the rest of it.
        chat_view = limiter.limit("10/minute", deduct_when=lambda response: response.status_code == 401)(chat_view)
    server.view_functions["api.chat_completions"] = chat_view
    return limiter
