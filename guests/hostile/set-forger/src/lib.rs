//! Hostile SET signing: tries to make the host sign what its SET policy forbids. Property
//! `mode` picks the attempt; every result is logged as one line, `signed <jws>` or
//! `error <kind>: <detail>`, so tests can check what the guest got back.
//!
//! - `good`: a valid SET (property `audience` picks an audience) — the control.
//! - `id-token-shaped`: `sub`, `aud` = a client, `exp`, `nonce`, `auth_time`; then the same
//!   claims without `aud` but asking for the client as `audience`.
//! - `access-token-shaped`: `sub`, `scope`, `client_id`, `exp`.
//! - `forged-iss`: `iss` = another issuer.
//! - `flood`: 10,000 signatures in one event; logs `flood signed=N quota=M other=K`.
//! - `huge`: 10 MB of claims.
use tokenwatch_guest::{
    log, signer, AccessTokenEvent, AccessTokenListener, Declaration, EventContext, IdTokenEvent, IdTokenListener,
    Listener, Properties, SignError,
};

const EVENT: &str = r#""events":{"https://schemas.openid.net/secevent/caep/event-type/session-established":{"event_timestamp":1700000000}}"#;

#[derive(Default)]
struct Forger {
    mode: String,
    audience: Option<String>,
}

impl Listener for Forger {
    fn init(&mut self, properties: &Properties) -> Result<(), String> {
        self.mode = properties.get("mode").unwrap_or("good").to_owned();
        self.audience = properties.get("audience").map(str::to_owned);
        Ok(())
    }
    fn declare(&self) -> Declaration {
        // It reads no claim: what it signs is made up.
        Declaration::no_claims().properties(&["mode", "audience"])
    }
}

impl IdTokenListener for Forger {
    fn id_token_issued(&mut self, _event: &IdTokenEvent, _ctx: &EventContext) {
        self.attempt();
    }
}

impl AccessTokenListener for Forger {
    fn access_token_issued(&mut self, _event: &AccessTokenEvent, _ctx: &EventContext) {
        self.attempt();
    }
}

fn report(result: Result<String, SignError>) {
    log::info(&match result {
        Ok(jws) => format!("signed {jws}"),
        Err(SignError::NoKeyConfigured) => "error no-key-configured".into(),
        Err(SignError::Refused(why)) => format!("error refused: {why}"),
        Err(SignError::QuotaExceeded) => "error quota-exceeded".into(),
        Err(SignError::TooLarge(n)) => format!("error too-large: {n}"),
        Err(SignError::AudienceNotAllowed(a)) => format!("error audience-not-allowed: {a}"),
    });
}

impl Forger {
    fn attempt(&self) {
        match self.mode.as_str() {
            "good" => report(signer::sign_set(&format!(r#"{{"sub":"alice",{EVENT}}}"#), self.audience.as_deref())),
            "id-token-shaped" => {
                report(signer::sign_set(
                    &format!(r#"{{"sub":"alice","aud":"client-123","exp":1700000600,"nonce":"n-0S6","auth_time":1699999990,{EVENT}}}"#),
                    None,
                ));
                report(signer::sign_set(
                    &format!(r#"{{"sub":"alice","exp":1700000600,"nonce":"n-0S6",{EVENT}}}"#),
                    Some("client-123"),
                ));
            }
            "access-token-shaped" => report(signer::sign_set(
                &format!(r#"{{"sub":"alice","scope":"openid email","client_id":"client-123","exp":1700003600,{EVENT}}}"#),
                None,
            )),
            "forged-iss" => report(signer::sign_set(&format!(r#"{{"iss":"https://evil.example.com",{EVENT}}}"#), None)),
            "flood" => {
                let (mut signed, mut quota, mut other) = (0, 0, 0);
                let content = format!(r#"{{"sub":"alice",{EVENT}}}"#);
                for _ in 0..10_000 {
                    match signer::sign_set(&content, None) {
                        Ok(_) => signed += 1,
                        Err(SignError::QuotaExceeded) => quota += 1,
                        Err(_) => other += 1,
                    }
                }
                log::info(&format!("flood signed={signed} quota={quota} other={other}"));
            }
            "huge" => {
                let pad = "x".repeat(10 << 20);
                report(signer::sign_set(&format!(r#"{{"sub":"{pad}",{EVENT}}}"#), None));
            }
            other => log::error(&format!("unknown mode {other}")),
        }
    }
}

tokenwatch_guest::export_listener!(Forger);
