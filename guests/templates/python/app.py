"""{{name}}: a tokenwatch listener (contract tokenwatch:listener@0.2.0).

Build with `./build.sh`; try it with
`tokenwatch replay --config tokenwatch.toml events.ndjson`. The SDK is in sdk/tokenwatch
(its docstrings are the reference); the contract is wit/listener.wit.
"""

import tokenwatch
from tokenwatch import Declaration, InitError, log

NAME = "{{name}}"


class MyListener(tokenwatch.Listener):
    def init(self, properties):
        # Called once per instance before any event, with the [listener.properties] of
        # tokenwatch.toml (a dict of strings). `raise InitError("why")` disables the listener
        # and shows why to the operator. Keep it short: it runs under the listener's limits,
        # and again on a fresh instance after every trap.
        self.prefix = properties.get("prefix", NAME)
        if not self.prefix:
            raise InitError('property "prefix" must not be empty')
        self.seen = 0

    def declare(self):
        # The claims the handlers read (the host hands over exactly these, in this order;
        # Declaration() hands over every claim), whether they read ctx.client_metadata, and
        # the property keys this listener accepts (the host warns about any other).
        return Declaration(claims=["sub", "iat", "client_id", "scope"], properties=["prefix"])

    def is_enabled(self):
        # False: the listener gets no events.
        return True

    def id_token_issued(self, event, ctx):
        # An ID token was issued: event.claims (declared claims only), event.local_subject,
        # ctx.issuer, ctx.client_id, ctx.client_metadata. Also at hand: tokenwatch.config,
        # .signer.sign_set, .publish.publish, .metrics.counter_add. Don't keep `event` or
        # `ctx` past the call. An exception traps this one call (its message is logged).
        self.seen += 1
        c = event.claims
        log.info(f"{self.prefix}: id_token sub={c.subject()} iat={c.issued_at()} client={ctx.client_id or '-'}")

    def access_token_issued(self, event, ctx):
        # An access token was issued: event.claims, ctx as above.
        self.seen += 1
        c = event.claims
        log.info(f"{self.prefix}: access_token sub={c.subject()} client={c.client_id()} scope={c.scope()}")

    def shutdown(self):
        # Called once when the host shuts down, under the listener's deadline.
        log.info(f"{self.prefix}: {self.seen} tokens seen by this instance")


# The export matching the handlers defined, and the world build.sh passes to componentize-py:
# export_id_token_listener (id-token-only), export_access_token_listener (access-token-only),
# export_listener (all-tokens).
Lifecycle, IdTokenListener, AccessTokenListener, BatchListener = tokenwatch.export_listener(MyListener)
