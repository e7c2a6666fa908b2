"""Hand messages to a named sink configured for this listener (enqueue only; delivery
happens off the issuing path)."""

from componentize_py_types import Err as _Err
from wit_world.imports import publish as _publish


class PublishError(Exception):
    """Why a message was not enqueued. `kind` is "unknown-sink" (`value`: the sink),
    "too-large" (`value`: the sink's cap in bytes) or "queue-full" (the message was counted
    as dropped)."""

    _KINDS = {
        _publish.PublishError_UnknownSink: "unknown-sink",
        _publish.PublishError_TooLarge: "too-large",
        _publish.PublishError_QueueFull: "queue-full",
    }

    def __init__(self, error):
        self.kind = self._KINDS.get(type(error), "unknown")
        self.value = getattr(error, "value", None)
        super().__init__(self.kind if self.value is None else "%s: %s" % (self.kind, self.value))


def publish(sink, message):
    """Enqueue `message` (str) for the sink named `sink`; raises `PublishError`."""
    try:
        _publish.publish(sink, message)
    except _Err as e:
        raise PublishError(e.value) from None
