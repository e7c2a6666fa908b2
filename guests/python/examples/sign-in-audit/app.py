"""Logs one line per issued ID token, like the `SignInListener` example of Connect2id's
`IDTokenIssueEventListener` SPI docs (the Python port of guests/examples/sign-in-audit: the
same lines for the same events)."""

import tokenwatch
from tokenwatch import Declaration, log


def _or(value):
    """The value, or `-` when there is none."""
    return "-" if value is None else value


class SignInAudit(tokenwatch.Listener):
    def declare(self):
        return Declaration(claims=["sub", "iat", "acr", "amr"], properties=[])

    def id_token_issued(self, event, ctx):
        c = event.claims
        log.info(
            f"sign-in sub={_or(c.subject())} iat={_or(c.issued_at())} "
            f"client={_or(ctx.client_id or None)} acr={_or(c.acr())} "
            # amr is shown as its JSON text: `["pwd","otp"]`.
            f"amr={_or(c.get('amr'))}"
        )


Lifecycle, IdTokenListener, BatchListener = tokenwatch.export_id_token_listener(SignInAudit)
