//! Logs one line per issued ID token, like the `SignInListener` example of Connect2id's
//! `IDTokenIssueEventListener` SPI docs.
use tokenwatch_guest::{log, EventContext, IdTokenEvent, IdTokenListener, Listener};

#[derive(Default)]
struct SignInAudit;

impl Listener for SignInAudit {}

impl IdTokenListener for SignInAudit {
    fn id_token_issued(&mut self, event: &IdTokenEvent, ctx: &EventContext) {
        let claims = event.claims();
        let sub = claims.subject().unwrap_or_else(|| "-".into());
        let iat = claims.issued_at().map_or_else(|| "-".into(), |t| t.to_string());
        let client = ctx.client_id();
        let client = if client.is_empty() { "-".to_string() } else { client };
        let acr = claims.acr().unwrap_or_else(|| "-".into());
        // amr is shown as its JSON text: `["pwd","otp"]`.
        let amr = claims.get("amr").unwrap_or_else(|| "-".into());
        log::info(&format!("sign-in sub={sub} iat={iat} client={client} acr={acr} amr={amr}"));
    }
}

tokenwatch_guest::export_id_token_listener!(SignInAudit);
