// expect: ok
// The control, and the complete listener of docs/languages/rust.md ("Write a listener (Rust)"), kept the same.
use tokenwatch_guest::{
    log, AccessTokenEvent, AccessTokenListener, EventContext, IdTokenEvent, IdTokenListener,
    Listener, Properties,
};

#[derive(Default)]
struct Counter {
    prefix: String,
    seen: u64, // lives across events: one instance per listener
}

impl Listener for Counter {
    fn init(&mut self, properties: &Properties) -> Result<(), String> {
        self.prefix = properties.get("prefix").unwrap_or("tokens").to_owned();
        Ok(())
    }
}

impl IdTokenListener for Counter {
    fn id_token_issued(&mut self, event: &IdTokenEvent, ctx: &EventContext) {
        self.seen += 1;
        let claims = event.claims();
        let sub = claims.subject().unwrap_or_else(|| "-".into());
        let acr = claims.acr().unwrap_or_else(|| "-".into()); // "urn:c2id:acr:mfa", not "\"urn:...\""
        log::info(&format!("{} #{} id_token sub={sub} acr={acr} client={}", self.prefix, self.seen, ctx.client_id()));
    }
}

impl AccessTokenListener for Counter {
    fn access_token_issued(&mut self, event: &AccessTokenEvent, _ctx: &EventContext) {
        self.seen += 1;
        let scope = event.claims().scope().unwrap_or_default();
        log::info(&format!("{} #{} access_token scope={scope}", self.prefix, self.seen));
    }
}

tokenwatch_guest::export_listener!(Counter);
