"""The event as handed to a handler, decoded from the event encoding of `wit/listener.wit`
(contract 0.2).

    event  = issuer client-id local-subject client-metadata claims
    field  = len:u32le bytes[len]  (UTF-8 text)  |  0xffffffff  (absent)
    claims = field * N  (the N declared claims, in declared order)
           | field      (no claims declared: the whole claims set as one JSON object)

Pure Python and free of the component bindings, so it runs (and is unit-tested) under any
CPython. A malformed buffer (cut short, not UTF-8) reads as absent fields; the host always
sends well-formed ones.
"""

import json as _json
import re as _re
import struct as _struct

__all__ = ["Claims", "EventContext", "IdTokenEvent", "AccessTokenEvent", "decode", "quote"]

_ABSENT = 0xFFFFFFFF
_U32 = _struct.Struct("<I")
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1

# Where warnings go (the SDK points it at the host log; tests at a list).
_warn = None
# Whether this instance warned of an undeclared claim (module state lives per instance).
_warned = False


def _fields(buf, count=None):
    """The fields at the front of `buf` (`count` of them, or all): bytes, or None when
    absent. A field cut short reads as absent and so does everything after it."""
    if type(buf) is not bytes:
        buf = bytes(buf)
    out = []
    append = out.append
    unpack = _U32.unpack_from
    off, end = 0, len(buf)
    if count is None:
        count = end
    while count and off + 4 <= end:
        count -= 1
        (n,) = unpack(buf, off)
        off += 4
        if n == _ABSENT:
            append(None)
        elif off + n <= end:
            append(buf[off:off + n])
            off += n
        else:
            break
    return out, off


def _text(field):
    """A field as text; absent or not UTF-8 reads as None."""
    if field is None:
        return None
    try:
        return field.decode("utf-8")
    except UnicodeDecodeError:
        return None


_WS = _re.compile(r"[ \t\n\r]*")
_DECODER = _json.JSONDecoder()
_scanstring = _json.decoder.scanstring


def members(text):
    """The top-level members of the JSON object `text`, as {name: value's JSON text as
    written}, in order; the first member of a name wins. Not an object: empty. A malformed
    object is read up to the first fault."""
    out = {}
    if not text:
        return out
    ws = _WS.match
    try:
        i = ws(text, 0).end()
        if text[i] != "{":
            return out
        i = ws(text, i + 1).end()
        if text[i] == "}":
            return out
        while text[i] == '"':
            name, i = _scanstring(text, i + 1)
            i = ws(text, i).end()
            if text[i] != ":":
                break
            i = ws(text, i + 1).end()
            _, end = _DECODER.raw_decode(text, i)
            if name not in out:
                out[name] = text[i:end]
            i = ws(text, end).end()
            if text[i] != ",":
                break
            i = ws(text, i + 1).end()
    except (IndexError, ValueError):
        pass
    return out


def quote(s):
    """`s` as a JSON string: `"`, `\\` and control characters escaped (as `\\u00XX`), the
    rest as is (the Rust SDK's `json::quote`, byte for byte)."""
    return '"' + _QUOTE.sub(_quote_one, s) + '"'


_QUOTE = _re.compile(r'["\\\x00-\x1f]')


def _quote_one(m):
    c = m.group(0)
    if c == '"' or c == "\\":
        return "\\" + c
    return "\\u%04x" % ord(c)


def _loads(text):
    try:
        return _json.loads(text)
    except ValueError:
        return None


def _undeclared(name):
    global _warned
    if _warned:
        return
    _warned = True
    if _warn is not None:
        _warn(
            'claim "%s" was not declared, so it reads as absent: a listener reads only the '
            'claims it declares; add "%s" to `Declaration(claims=...)` in `declare()`, or '
            "declare all claims with `Declaration()` (this warning is logged once per instance)"
            % (name, name)
        )


class Claims:
    """The claims of an issued token that the listener declared.

    `get(name)` gives a claim's JSON text exactly as issued (`'"alice"'`, `'1700000000'`,
    `'["pwd","otp"]'`); the typed accessors parse that text and give None when the claim
    is absent or has another JSON type. With `Declaration(claims=[...])` only those claims
    can be read (any other name reads as None, and the first such read of an instance logs a
    warning); with `Declaration()` (the default) every claim of the token.
    """

    __slots__ = ("_declared", "_fields", "_whole", "_members")

    def __init__(self, declared, fields, whole):
        self._declared = declared  # {name: index} or None
        self._fields = fields  # the declared claims' fields, in declared order
        self._whole = whole  # the claims set's bytes (whole mode)
        self._members = None  # {name: JSON text}, parsed on first read (whole mode)

    def _all(self):
        if self._members is None:
            self._members = members(_text(self._whole))
        return self._members

    def get(self, name):
        """One claim as its JSON text as issued, or None when the token has no such claim
        or the listener did not declare it."""
        declared = self._declared
        if declared is None:
            return self._all().get(name)
        index = declared.get(name)
        if index is None:
            _undeclared(name)
            return None
        fields = self._fields
        return _text(fields[index]) if index < len(fields) else None

    def __contains__(self, name):
        return self.get(name) is not None

    def names(self):
        """The names of the claims present: the declared claims the token has, in declared
        order, or (all claims declared) every claim of the token, in the token's order."""
        if self._declared is None:
            return list(self._all())
        return [n for n, i in self._declared.items() if i < len(self._fields) and _text(self._fields[i]) is not None]

    def to_json(self):
        """The claims present as one JSON object (text): the whole claims set as the host
        sent it, or an object of the declared claims the token has, values as issued."""
        if self._declared is None:
            text = _text(self._whole)
            return text if text else "{}"
        parts = []
        for name, i in self._declared.items():
            value = _text(self._fields[i]) if i < len(self._fields) else None
            if value is not None:
                parts.append(quote(name) + ":" + value)
        return "{" + ",".join(parts) + "}"

    def value(self, name):
        """A claim parsed as JSON (str, int, float, bool, None for JSON null, list, dict);
        None also when absent or not valid JSON."""
        text = self.get(name)
        return None if text is None else _loads(text)

    def get_str(self, name):
        """A string claim, unescaped."""
        text = self.get(name)
        if text is None:
            return None
        # The usual case without the JSON parser: a string with no escapes (the text is
        # valid JSON, so it has no quote inside either).
        if len(text) >= 2 and text[0] == '"' and text[-1] == '"' and "\\" not in text:
            return text[1:-1]
        v = _loads(text)
        return v if isinstance(v, str) else None

    def get_int(self, name):
        """An integer claim that fits a signed 64-bit integer (no fraction, no exponent)."""
        text = self.get(name)
        if text is None:
            return None
        digits = text[1:] if text[:1] == "-" else text
        if not (digits.isascii() and digits.isdigit()) or (len(digits) > 1 and digits[0] == "0"):
            return None
        v = int(text)
        return v if _I64_MIN <= v <= _I64_MAX else None

    def get_bool(self, name):
        """A boolean claim, such as `email_verified`."""
        v = self.value(name)
        return v if type(v) is bool else None

    def get_strings(self, name):
        """A claim that is an array of strings. A single string is not a list: for `aud`,
        use `audience()`."""
        v = self.value(name)
        if isinstance(v, list) and all(isinstance(s, str) for s in v):
            return v
        return None

    def subject(self):
        """`sub`, when it is a string."""
        return self.get_str("sub")

    def issuer(self):
        """`iss`, when it is a string."""
        return self.get_str("iss")

    def audience(self):
        """`aud` as a list: a single string becomes a list of one; absent (or neither a
        string nor an array of strings) is empty."""
        v = self.value("aud")
        if isinstance(v, str):
            return [v]
        if isinstance(v, list) and all(isinstance(s, str) for s in v):
            return v
        return []

    def issued_at(self):
        """`iat` in seconds since the epoch, when it is an integer."""
        return self.get_int("iat")

    def expires_at(self):
        """`exp` in seconds since the epoch, when it is an integer."""
        return self.get_int("exp")

    def auth_time(self):
        """`auth_time` in seconds since the epoch, when it is an integer."""
        return self.get_int("auth_time")

    def client_id(self):
        """`client_id`, when it is a string (access tokens, RFC 9068)."""
        return self.get_str("client_id")

    def scope(self):
        """`scope`, the space-separated scope string."""
        return self.get_str("scope")

    def jwt_id(self):
        """`jti`, when it is a string."""
        return self.get_str("jti")

    def acr(self):
        """`acr`, the authentication context class reference, when it is a string."""
        return self.get_str("acr")

    def amr(self):
        """`amr`, the authentication methods references, when an array of strings."""
        return self.get_strings("amr")

    def __repr__(self):
        return "Claims(%s)" % self.to_json()


class EventContext:
    """The context a token was issued in (the SPI's `EventContext`)."""

    __slots__ = ("_issuer", "_client_id", "_client_metadata")

    def __init__(self, issuer, client_id, client_metadata):
        self._issuer, self._client_id, self._client_metadata = issuer, client_id, client_metadata

    @property
    def issuer(self):
        """The issuer URL of the OpenID provider / authorisation server."""
        return _text(self._issuer) or ""

    @property
    def client_id(self):
        """The `client_id` of the client the token was issued to; empty when unknown."""
        return _text(self._client_id) or ""

    @property
    def client_metadata(self):
        """The client's registered metadata (RFC 7591) as the text of a JSON object, when
        the listener declared it (`Declaration(client_metadata=True)`); None otherwise."""
        return _text(self._client_metadata)

    def __repr__(self):
        return "EventContext(issuer=%r, client_id=%r, client_metadata=%r)" % (
            self.issuer, self.client_id, self.client_metadata)


class IdTokenEvent:
    """An issued ID token: `claims`, and `local_subject` when `sub` is pairwise."""

    __slots__ = ("claims", "_local_subject")

    def __init__(self, claims, local_subject):
        self.claims = claims
        self._local_subject = local_subject

    @property
    def local_subject(self):
        """The local subject when `sub` is pairwise, None otherwise."""
        return _text(self._local_subject)


class AccessTokenEvent:
    """An issued access token: `claims`."""

    __slots__ = ("claims",)

    def __init__(self, claims):
        self.claims = claims


def decode(buf, declared):
    """Splits `buf` into (context, local subject field, claims). `declared` maps the declared
    claim names to their positions, or is None when the whole claims set was asked for."""
    if declared is None:
        head, off = _fields(buf, 5)
        head += [None] * (5 - len(head))
        claims = Claims(None, None, head[4])
    else:
        head, _ = _fields(buf, 4 + len(declared))
        head += [None] * (4 - len(head))
        claims = Claims(declared, head[4:], None)
    return EventContext(head[0], head[1], head[3]), head[2], claims
