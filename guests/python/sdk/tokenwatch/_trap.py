"""An exception that escapes a listener: logged at `error` before the call traps.

The host keeps the last line a call logged at `error` and shows it as the trap's message
(cause `panic`), so that line carries the exception's type and message first (the host cuts
it to 1 KiB), then where it was raised: `uncaught ValueError: boom [at app.py:42 in fail
<- app.py:30 in id_token_issued]`, innermost frame first, the SDK's own frames left out. The
whole traceback goes to the log at `debug` just before it.
"""

import os as _os
import traceback as _traceback

from wit_world.imports import log as _log

_SDK_DIR = _os.path.dirname(_os.path.abspath(__file__))
_MAX_FRAMES = 8


def _where(e):
    frames = [f for f in _traceback.extract_tb(e.__traceback__)
              if _os.path.dirname(_os.path.abspath(f.filename)) != _SDK_DIR]
    frames.reverse()
    parts = ["%s:%s in %s" % (_os.path.basename(f.filename), f.lineno, f.name) for f in frames[:_MAX_FRAMES]]
    if len(frames) > _MAX_FRAMES:
        parts.append("...")
    return " <- ".join(parts)


def line(what, e):
    """The one-line summary of `e`, raised out of the listener's `what`."""
    message = str(e)
    head = type(e).__name__ + (": " + message if message else "")
    where = _where(e)
    return "uncaught %s [%s]" % (head, ("at " + where) if where else "in " + what)


def report(what, e):
    try:
        text = "".join(_traceback.format_exception(type(e), e, e.__traceback__)).rstrip()
        _log.log(_log.Level.DEBUG, "traceback (%s):\n%s" % (what, text))
        _log.log(_log.Level.ERROR, line(what, e))
    except BaseException:
        # Never hide the original exception behind one of the report's own.
        try:
            _log.log(_log.Level.ERROR, "uncaught %s in %s" % (type(e).__name__, what))
        except BaseException:
            pass
