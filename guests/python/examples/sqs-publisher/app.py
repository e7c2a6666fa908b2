"""Publishes one JSON message per issued ID token and access token to a sink: the Python
port of guests/examples/sqs-publisher (the sandboxed counterpart of Connect2id's AWS SQS
token event publisher), with the same properties and byte-identical messages.

Properties:

- `sink` (required): the name of a sink granted to this listener;
- `claims`: the claims to publish, comma-separated, in message order (default `sub,iat`).
  Names are trimmed, empty items dropped, repeats ignored; at least one is needed. These are
  also the claims the listener declares, so the host hands over nothing else;
- `include.<name>=<value>`: adds the member `<name>` with the string `<value>` to every
  message, after the claims, by name. A listed claim of the same name wins;
- `fail_on_sub=<sub>` (for tests and demos of containment): the handler raises for a token
  whose `sub` is this value, which traps that one call.

Each message is one JSON object without spaces: the listed claims the token has, each with
its JSON value as issued, then the includes: `{"sub":"alice","iat":1523304728,"region":"eu-1"}`.

A failed publish is logged at `warn` the first time for each kind of failure, then only
counted; the counts are logged at shutdown.
"""

import tokenwatch
from tokenwatch import Declaration, InitError, PublishError, log, publish, quote

DEFAULT_CLAIMS = "sub,iat"
INCLUDE = "include."
FAILURES = ("unknown-sink", "too-large", "queue-full")
_WHY = {
    "unknown-sink": lambda e, n: "no sink of that name is granted to this listener",
    "too-large": lambda e, n: "the message has %d bytes, the sink takes at most %s" % (n, e.value),
    "queue-full": lambda e, n: "the sink's queue is full, the message was dropped",
}


def build_message(get, names, includes):
    """The message of one token: the claims `names` that `get(name)` has (JSON text as
    issued), then `includes` (sorted (name, value) pairs) as strings; an include named like a
    listed claim is skipped, even for a token without that claim."""
    parts = []
    for name in names:
        value = get(name)
        if value:  # (empty text is no JSON value)
            parts.append(quote(name) + ":" + value)
    for name, value in includes:
        if name not in names:
            parts.append(quote(name) + ":" + quote(value))
    return "{" + ",".join(parts) + "}"


class SqsPublisher(tokenwatch.Listener):
    def init(self, properties):
        self.sink = properties.get("sink", "").strip()
        if not self.sink:
            raise InitError('sqs-publisher: property "sink" is required: the name of a sink granted to this listener')
        self.claims = []
        for name in properties.get("claims", DEFAULT_CLAIMS).split(","):
            name = name.strip()
            if name and name not in self.claims:
                self.claims.append(name)
        if not self.claims:
            raise InitError('sqs-publisher: property "claims" names no claim: give a comma-separated list such as "sub,iat"')
        self.includes = []
        for key, value in properties.items():
            if not key.startswith(INCLUDE):
                continue
            name = key[len(INCLUDE):]
            if not name:
                raise InitError('sqs-publisher: property "%s" names no member: write include.<name>=<value>' % key)
            if name in self.claims:
                log.warn('property "%s" is skipped: "%s" is one of the claims, which wins' % (key, name))
            self.includes.append((name, value))
        self.includes.sort()
        self.fail_on_sub = properties.get("fail_on_sub")
        self.failures = dict.fromkeys(FAILURES, 0)
        log.info("init sink=%s claims=%s includes=%s" % (
            self.sink, ",".join(self.claims), ",".join(n for n, _ in self.includes) or "-"))

    def declare(self):
        keys = ["claims", "sink", "fail_on_sub"] + [INCLUDE + n for n, _ in self.includes]
        claims = list(self.claims)
        if self.fail_on_sub is not None and "sub" not in claims:
            claims.append("sub")
        return Declaration(claims=claims, properties=keys)

    def id_token_issued(self, event, ctx):
        self.publish(event.claims)

    def access_token_issued(self, event, ctx):
        self.publish(event.claims)

    def publish(self, claims):
        if self.fail_on_sub is not None and claims.subject() == self.fail_on_sub:
            raise RuntimeError("refusing to publish the token of sub %s (fail_on_sub)" % self.fail_on_sub)
        message = build_message(claims.get, self.claims, self.includes)
        try:
            publish.publish(self.sink, message)
        except PublishError as e:
            self.failed(e, len(message.encode()))

    def failed(self, error, size):
        kind = error.kind
        self.failures[kind] = self.failures.get(kind, 0) + 1
        if self.failures[kind] == 1:
            log.warn('publish to sink "%s" failed: %s (%s); further %s failures are only counted until shutdown'
                     % (self.sink, kind, _WHY[kind](error, size), kind))

    def shutdown(self):
        total = sum(self.failures.values())
        if total:
            counts = " ".join("%s=%d" % (k, n) for k, n in self.failures.items() if n)
            log.warn('%d messages not published to sink "%s": %s' % (total, self.sink, counts))


Lifecycle, IdTokenListener, AccessTokenListener, BatchListener = tokenwatch.export_listener(SqsPublisher)
