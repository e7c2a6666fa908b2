"""An exception that escapes a listener: logged at `error` before the call traps.

The host keeps the last line a call logged at `error` and shows it as the trap's message
(cause `panic`), so that line carries the exception's type and message first (the host cuts
it to 1 KiB), then where it was raised: `uncaught ValueError: boom [at app.py:42 in fail
<- app.py:30 in id_token_issued]`, innermost frame first, the SDK's own frames left out. The
whole traceback goes to the log at `debug` just before it.

Built from the frames alone: the `traceback` module's formatting reads source lines through
`linecache`, and `os.path.abspath` asks for the working directory, both WASI calls that trap
in a `--stub-wasi` component (before the message would reach the log).
"""

from wit_world.imports import log as _log

_MAX_FRAMES = 8


def _frames(e):
    """(file, line, function, module) of each frame of `e`'s traceback, outermost first."""
    out = []
    tb = e.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        out.append((code.co_filename, tb.tb_lineno, code.co_name, tb.tb_frame.f_globals.get("__name__", "")))
        tb = tb.tb_next
    return out


def _basename(path):
    return path.rsplit("/", 1)[-1]


def _head(e):
    message = str(e)
    return type(e).__name__ + (": " + message if message else "")


def line(what, e):
    """The one-line summary of `e`, raised out of the listener's `what`."""
    frames = [f for f in _frames(e) if f[3] != "tokenwatch" and not f[3].startswith("tokenwatch.")]
    frames.reverse()
    parts = ["%s:%s in %s" % (_basename(f[0]), f[1], f[2]) for f in frames[:_MAX_FRAMES]]
    if len(frames) > _MAX_FRAMES:
        parts.append("...")
    return "uncaught %s [%s]" % (_head(e), ("at " + " <- ".join(parts)) if parts else "in " + what)


def traceback_text(e):
    """Python's own traceback layout, without the source lines."""
    lines = ["Traceback (most recent call last):"]
    lines += ['  File "%s", line %s, in %s' % (f, n, name) for f, n, name, _ in _frames(e)]
    lines.append(_head(e))
    return "\n".join(lines)


def report(what, e):
    try:
        _log.log(_log.Level.DEBUG, "traceback (%s):\n%s" % (what, traceback_text(e)))
        _log.log(_log.Level.ERROR, line(what, e))
    except BaseException:
        # Never hide the original exception behind one of the report's own.
        try:
            _log.log(_log.Level.ERROR, "uncaught %s in %s" % (type(e).__name__, what))
        except BaseException:
            pass
