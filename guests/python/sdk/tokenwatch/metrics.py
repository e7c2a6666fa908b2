"""Counters and gauges the host exposes in the Prometheus text format, as `guest_<name>`
with a `listener` label. Names and label names match `[a-zA-Z_][a-zA-Z0-9_]*`; the host caps
names and label sets per listener."""

from componentize_py_types import Err as _Err
from wit_world.imports import metrics as _metrics


class MetricsError(Exception):
    """Why the host refused: `kind` is "invalid" (`value`: what and why),
    "too-many-series" (`value`: the limit) or "kind-mismatch" (`value`: the name)."""

    _KINDS = {
        _metrics.MetricsError_Invalid: "invalid",
        _metrics.MetricsError_TooManySeries: "too-many-series",
        _metrics.MetricsError_KindMismatch: "kind-mismatch",
    }

    def __init__(self, error):
        self.kind = self._KINDS.get(type(error), "unknown")
        self.value = getattr(error, "value", None)
        super().__init__("%s: %s" % (self.kind, self.value))


def _labels(labels):
    if labels is None:
        return []
    if isinstance(labels, dict):
        return [(str(k), str(v)) for k, v in labels.items()]
    return [(str(k), str(v)) for k, v in labels]


def counter_add(name, value=1, labels=None):
    """Add `value` to the counter `name` with `labels` (a dict or pairs); raises MetricsError."""
    try:
        _metrics.counter_add(name, _labels(labels), int(value))
    except _Err as e:
        raise MetricsError(e.value) from None


def gauge_set(name, value, labels=None):
    """Set the gauge `name` with `labels` to `value`; raises MetricsError."""
    try:
        _metrics.gauge_set(name, _labels(labels), float(value))
    except _Err as e:
        raise MetricsError(e.value) from None
