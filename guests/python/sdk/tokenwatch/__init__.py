"""Python SDK for tokenwatch listeners: WebAssembly components notified of issued ID tokens
and access tokens (the sandboxed counterpart of Connect2id's `IDTokenIssueEventListener` /
`AccessTokenIssueEventListener` SPIs), contract `tokenwatch:listener@0.2.0`, built with
`componentize-py` 0.25.1 (`--stub-wasi`).

A listener is a class derived from `Listener` (lifecycle, every method defaulted) that
defines `id_token_issued`, `access_token_issued` or both. The app module exports it with the
one function that matches, and the world given to `componentize-py -w`:

    Defines                 Export with                             World
    id_token_issued         export_id_token_listener(cls)           id-token-only
    access_token_issued     export_access_token_listener(cls)       access-token-only
    both                    export_listener(cls)                    all-tokens

    import tokenwatch
    from tokenwatch import log, Declaration

    class Audit(tokenwatch.Listener):
        def declare(self):
            return Declaration(claims=["sub", "acr"])

        def id_token_issued(self, event, ctx):
            c = event.claims
            log.info(f"sub={c.subject()} acr={c.acr()} client={ctx.client_id}")

    Lifecycle, IdTokenListener, BatchListener = tokenwatch.export_id_token_listener(Audit)

An exception that escapes a listener method is logged at `error` (type, message and where)
and the call then traps: the host shows that line as the trap's message, drops the instance
and serves the next event with a fresh one. `raise tokenwatch.InitError("why")` in `init`
disables the listener with that message instead.
"""

import sys as _sys

from componentize_py_types import Err as _Err
from wit_world.exports import lifecycle as _lifecycle
from wit_world.exports import batch_listener as _batch_listener
from wit_world.imports import batch as _batch

from . import config, log, metrics, publish, signer  # noqa: F401  (the imports at hand)
from . import event as _event
from .event import AccessTokenEvent, Claims, EventContext, IdTokenEvent, quote  # noqa: F401
from .publish import PublishError  # noqa: F401
from .signer import SignError  # noqa: F401
from .metrics import MetricsError  # noqa: F401
from ._trap import report as _report

__all__ = [
    "Listener", "Declaration", "Properties", "InitError", "Claims", "EventContext",
    "IdTokenEvent", "AccessTokenEvent", "PublishError", "SignError", "MetricsError", "quote",
    "log", "config", "signer", "publish", "metrics",
    "export_id_token_listener", "export_access_token_listener", "export_listener",
]

_event._warn = log.warn


class InitError(Exception):
    """Raised by `Listener.init`: disables the listener; the message is shown to the
    operator (`replay`, status, log)."""


class Declaration:
    """What a listener reads and accepts, returned by `Listener.declare`.

    - `claims`: the claim names the handlers read, in order (the host hands over exactly
      these; any other name reads as None); None (the default): the whole claims set;
      `[]`: no claim at all;
    - `client_metadata`: whether the handlers read `ctx.client_metadata`;
    - `properties`: the configuration keys the listener accepts (the host warns about any
      other); None (the default): any key, no warning.
    """

    __slots__ = ("claims", "client_metadata", "properties")

    def __init__(self, claims=None, client_metadata=False, properties=None):
        self.claims = None if claims is None else [str(n) for n in claims]
        self.client_metadata = bool(client_metadata)
        self.properties = None if properties is None else [str(k) for k in properties]

    def __repr__(self):
        return "Declaration(claims=%r, client_metadata=%r, properties=%r)" % (
            self.claims, self.client_metadata, self.properties)


class Properties(dict):
    """The listener's configuration properties as passed to `init` (a dict, in key order)."""


class Listener:
    """The lifecycle of a listener. One object lives per Wasm instance: created (without
    arguments) just before `init` and dropped after `shutdown`; after a trap the host starts
    a fresh instance, so a fresh object is initialised. Every method has a default; define
    `id_token_issued(self, event, ctx)` and/or `access_token_issued(self, event, ctx)`."""

    def init(self, properties):
        """Called once before any event with the `Properties`. `raise InitError(msg)`
        disables the listener."""

    def declare(self):
        """What the handlers read and which properties the listener accepts, asked once
        right after a successful `init`. The default reads every claim, accepts any key."""
        return Declaration()

    def is_enabled(self):
        """Called after a successful `init`; False means no events are delivered."""
        return True

    def shutdown(self):
        """Called once when the host shuts down."""


# --- the export glue ------------------------------------------------------------------------

# A component holds one listener: (object, {declared name: index} or None), set by init.
_slot = None
_cls = None


def _guarded(what, f, *args):
    """`f(*args)`; an exception is logged at `error` (the trap's message) and re-raised, which
    traps the call."""
    try:
        return f(*args)
    except InitError:
        raise
    except BaseException as e:
        _report(what, e)
        raise


def _init(properties):
    global _slot
    listener = _cls()
    listener.init(Properties(properties))
    d = listener.declare()
    if not isinstance(d, Declaration):
        raise TypeError("declare() must return a tokenwatch.Declaration, not %s" % type(d).__name__)
    index = None
    if d.claims is not None:
        index = {}
        for i, name in enumerate(d.claims):
            index.setdefault(name, i)
    _slot = (listener, index)
    return _lifecycle.Declaration(claims=d.claims, client_metadata=d.client_metadata, properties=d.properties)


class _Lifecycle:
    def init(self, properties):
        try:
            return _guarded("init", _init, properties)
        except InitError as e:
            raise _Err(str(e) or type(e).__name__)

    def is_enabled(self):
        if _slot is None:
            return False
        return bool(_guarded("is_enabled", _slot[0].is_enabled))

    def shutdown(self):
        global _slot
        if _slot is not None:
            listener = _slot[0]
            _slot = None
            _guarded("shutdown", listener.shutdown)


# Events before a successful init are ignored: the host never sends them.
def _id_token(buf):
    if _slot is not None:
        listener, declared = _slot
        ctx, local_subject, claims = _event.decode(buf, declared)
        listener.id_token_issued(IdTokenEvent(claims, local_subject), ctx)


def _access_token(buf):
    if _slot is not None:
        listener, declared = _slot
        ctx, _, claims = _event.decode(buf, declared)
        listener.access_token_issued(AccessTokenEvent(claims), ctx)


class _IdTokenListener:
    def id_token_issued(self, event):
        _guarded("id_token_issued", _id_token, event)


class _AccessTokenListener:
    def access_token_issued(self, event):
        _guarded("access_token_issued", _access_token, event)


_ID, _ACCESS = _batch_listener.TokenKind.ID_TOKEN, _batch_listener.TokenKind.ACCESS_TOKEN


def _batch_class(id_token, access_token):
    """The `batch-listener` export: `batch.begin(i)` (which arms event i's own budgets),
    then the handler of event i's kind. The host sends only kinds with a handler."""
    handlers = {}
    if id_token:
        handlers[_ID] = _id_token
    if access_token:
        handlers[_ACCESS] = _access_token

    def tokens_issued(self, events):
        begin = _batch.begin
        for i, issued in enumerate(events):
            begin(i)
            handler = handlers.get(issued.kind)
            if handler is not None:
                _guarded(_NAMES[issued.kind], handler, issued.event)

    return type("BatchListener", (), {"tokens_issued": tokens_issued})


_NAMES = {_ID: "id_token_issued", _ACCESS: "access_token_issued"}


def _defines(cls, name):
    return callable(getattr(cls, name, None))


def _export(cls, id_token, access_token, fn):
    global _cls
    if not (isinstance(cls, type) and issubclass(cls, Listener)):
        raise TypeError("%s(%r): expected a class derived from tokenwatch.Listener" % (fn, cls))
    if _cls is not None:
        raise TypeError("%s(%s): a component is one listener, and %s is already exported"
                        % (fn, cls.__name__, _cls.__name__))
    for name, wanted, other in (("id_token_issued", id_token, "export_access_token_listener"),
                                ("access_token_issued", access_token, "export_id_token_listener")):
        has = _defines(cls, name)
        if wanted and not has:
            raise TypeError("%s(%s): the class has no %s(self, event, ctx); a listener of the "
                            "other kind only is exported with %s" % (fn, cls.__name__, name, other))
        if not wanted and has:
            raise TypeError("%s(%s): the class also defines %s, which this export would never call; "
                            "export a listener of both kinds with export_listener (world all-tokens)"
                            % (fn, cls.__name__, name))
    _cls = cls
    _install_stdio()
    return _batch_class(id_token, access_token)


def export_id_token_listener(cls):
    """Exports `cls` as a listener of ID tokens only (world `id-token-only`):

        Lifecycle, IdTokenListener, BatchListener = export_id_token_listener(MyListener)
    """
    batch = _export(cls, True, False, "export_id_token_listener")
    return _Lifecycle, _IdTokenListener, batch


def export_access_token_listener(cls):
    """Exports `cls` as a listener of access tokens only (world `access-token-only`):

        Lifecycle, AccessTokenListener, BatchListener = export_access_token_listener(MyListener)
    """
    batch = _export(cls, False, True, "export_access_token_listener")
    return _Lifecycle, _AccessTokenListener, batch


def export_listener(cls):
    """Exports `cls` as a listener of both kinds (world `all-tokens`):

        Lifecycle, IdTokenListener, AccessTokenListener, BatchListener = export_listener(MyListener)
    """
    batch = _export(cls, True, True, "export_listener")
    return _Lifecycle, _IdTokenListener, _AccessTokenListener, batch


class _LogStream:
    """`sys.stdout` / `sys.stderr` in the component: with `--stub-wasi` a write to the real
    ones traps, so `print` goes to the host log instead, one line per line."""

    def __init__(self, emit):
        self._emit = emit
        self._pending = ""

    def write(self, s):
        s = self._pending + str(s)
        *lines, self._pending = s.split("\n")
        for line in lines:
            self._emit(line)
        return len(s)

    def flush(self):
        if self._pending:
            line, self._pending = self._pending, ""
            self._emit(line)

    def isatty(self):
        return False


def _install_stdio():
    _sys.stdout = _LogStream(log.info)
    _sys.stderr = _LogStream(log.warn)
