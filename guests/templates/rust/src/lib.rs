//! {{name}}: a tokenwatch listener in Rust (contract tokenwatch:listener@0.2.0).
//! Build with ./build.sh; try it with `tokenwatch check dist/{{name}}.wasm --events events.ndjson`.
//! The SDK's documentation: `cargo doc -p tokenwatch-guest --open`; the contract is in wit/.

use tokenwatch_guest::{
    log, AccessTokenEvent, AccessTokenListener, Declaration, EventContext, IdTokenEvent, IdTokenListener, Listener,
    Properties,
};

/// One value lives per Wasm instance: its fields last across events, as a Java listener's do.
#[derive(Default)]
struct MyListener {
    prefix: String,
    seen: u64,
}

impl Listener for MyListener {
    /// Called once before any event with the `[listener.properties]`. An `Err` disables the
    /// listener; the operator sees the message.
    fn init(&mut self, properties: &Properties) -> Result<(), String> {
        self.prefix = properties.get("prefix").unwrap_or("{{name}}").to_owned();
        Ok(())
    }

    /// The claims the handlers read (the host hands over only these, in this order), and the
    /// properties accepted (the host warns about others). `Declaration::all_claims()` hands
    /// over every claim; `.client_metadata()` adds the client's registered metadata.
    fn declare(&self) -> Declaration {
        Declaration::claims(&["sub", "iat", "acr", "scope"]).properties(["prefix"])
    }

    /// `false`: no events are delivered.
    fn is_enabled(&self) -> bool {
        true
    }

    /// Called once when the host shuts down.
    fn shutdown(&mut self) {
        log::info(&format!("{}: {} tokens seen", self.prefix, self.seen));
    }
}

impl IdTokenListener for MyListener {
    /// An ID token was issued. A panic here is logged with its message and loses this event
    /// only; the next one gets a fresh instance.
    fn id_token_issued(&mut self, event: &IdTokenEvent, ctx: &EventContext) {
        self.seen += 1;
        let claims = event.claims();
        log::info(&format!(
            "{} id-token sub={} acr={} client={}",
            self.prefix,
            claims.subject().as_deref().unwrap_or("-"),
            claims.acr().as_deref().unwrap_or("-"),
            ctx.client_id()
        ));
    }
}

impl AccessTokenListener for MyListener {
    /// An access token was issued.
    fn access_token_issued(&mut self, event: &AccessTokenEvent, ctx: &EventContext) {
        self.seen += 1;
        let claims = event.claims();
        log::info(&format!(
            "{} access-token sub={} scope={} client={}",
            self.prefix,
            claims.subject().as_deref().unwrap_or("-"),
            claims.get_str("scope").as_deref().unwrap_or("-"),
            ctx.client_id()
        ));
    }
}

// Exports both handlers (world `all-tokens`); for one kind only, implement one trait and use
// `export_id_token_listener!` or `export_access_token_listener!`.
tokenwatch_guest::export_listener!(MyListener);
