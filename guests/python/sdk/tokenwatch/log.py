"""The host log; lines are tagged with the listener's name. The host cuts a message to
4 KiB and keeps at most 64 lines per call (the rest are counted as dropped)."""

from wit_world.imports import log as _log

Level = _log.Level
_emit = _log.log
_TRACE, _DEBUG, _INFO, _WARN, _ERROR = Level.TRACE, Level.DEBUG, Level.INFO, Level.WARN, Level.ERROR


def log(level, message):
    """Log one line at `level` (a `Level`, or its name: "info"...)."""
    if isinstance(level, str):
        level = Level[level.upper()]
    _emit(level, str(message))


def trace(message):
    _emit(_TRACE, str(message))


def debug(message):
    _emit(_DEBUG, str(message))


def info(message):
    _emit(_INFO, str(message))


def warn(message):
    _emit(_WARN, str(message))


def error(message):
    _emit(_ERROR, str(message))
