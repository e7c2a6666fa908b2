//! Logs one line per issued ID token, like the `SignInListener` example of Connect2id's
//! `IDTokenIssueEventListener` SPI docs.
//!
//! It declares the four claims it reads, and reads them in place: the only allocation of an
//! event is the formatted line.
use std::fmt;
use tokenwatch_guest::{log, Declaration, EventContext, IdTokenEvent, IdTokenListener, Listener};

#[derive(Default)]
struct SignInAudit;

impl Listener for SignInAudit {
    fn declare(&self) -> Declaration {
        Declaration::claims(&["sub", "iat", "acr", "amr"]).no_properties()
    }
}

impl IdTokenListener for SignInAudit {
    fn id_token_issued(&mut self, event: &IdTokenEvent, ctx: &EventContext) {
        let claims = event.claims();
        let client = Some(ctx.client_id()).filter(|c| !c.is_empty());
        log::info(&format!(
            "sign-in sub={} iat={} client={} acr={} amr={}",
            Or(claims.subject()),
            Or(claims.issued_at()),
            Or(client),
            Or(claims.acr()),
            // amr is shown as its JSON text: `["pwd","otp"]`.
            Or(claims.get("amr")),
        ));
    }
}

/// The value, or `-` when there is none.
struct Or<T>(Option<T>);

impl<T: fmt::Display> fmt::Display for Or<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("-"),
        }
    }
}

tokenwatch_guest::export_id_token_listener!(SignInAudit);
