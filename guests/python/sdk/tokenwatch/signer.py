"""Security Event Token (RFC 8417) signing by the host; the key never enters the guest."""

import json as _json

from componentize_py_types import Err as _Err
from wit_world.imports import signer as _signer


class SignError(Exception):
    """Why the host would not sign. `kind` is one of "no-key-configured", "refused" (`value`:
    the rule and claim), "quota-exceeded", "too-large" (`value`: the cap in bytes),
    "audience-not-allowed" (`value`: the audience)."""

    _KINDS = {
        _signer.SignError_NoKeyConfigured: "no-key-configured",
        _signer.SignError_Refused: "refused",
        _signer.SignError_QuotaExceeded: "quota-exceeded",
        _signer.SignError_TooLarge: "too-large",
        _signer.SignError_AudienceNotAllowed: "audience-not-allowed",
    }

    def __init__(self, error):
        self.kind = self._KINDS.get(type(error), "unknown")
        self.value = getattr(error, "value", None)
        super().__init__(self.kind if self.value is None else "%s: %s" % (self.kind, self.value))


def sign_set(claims, audience=None):
    """Sign a SET. `claims` is the SET content: a JSON text, or a dict (serialised here)
    holding `events` and optionally `sub`, `sub_id`, `txn`, `toe`; the host sets `iss`,
    `iat` and `jti`. `audience` picks one configured audience (None: all of them). Returns
    the compact JWS; raises `SignError`."""
    if not isinstance(claims, str):
        claims = _json.dumps(claims, separators=(",", ":"), ensure_ascii=False)
    try:
        return _signer.sign_set(claims, audience)
    except _Err as e:
        raise SignError(e.value) from None
