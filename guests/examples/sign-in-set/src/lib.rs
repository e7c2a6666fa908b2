//! Connect2id's documented SET example as a sandboxed listener: on each issued ID token,
//! build a Security Event Token (RFC 8417) holding one CAEP `session-established` event,
//! have the host sign it (the key never enters this guest), and publish it to the sink
//! `set`. While no such sink is configured, the signed SET is logged at info.
//!
//! The SET content this guest supplies (the host adds `iss`, `iat`, `jti`, `aud`):
//! ```json
//! {"events": {"https://schemas.openid.net/secevent/caep/event-type/session-established": {
//!     "subject": {"format": "iss_sub", "iss": "<issuer>", "sub": "<sub>"},
//!     "event_timestamp": <iat>, "client_id": "<client>", "acr": "<acr>", "amr": [...]}}}
//! ```
use tokenwatch_guest::json::quote;
use tokenwatch_guest::{
    log, publish, signer, Declaration, EventContext, IdTokenEvent, IdTokenListener, Listener, PublishError, SignError,
};

const SESSION_ESTABLISHED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-established";

#[derive(Default)]
struct SignInSet;

impl Listener for SignInSet {
    fn declare(&self) -> Declaration {
        Declaration::claims(&["sub", "iat", "azp", "aud", "acr", "amr"]).no_properties()
    }
}

impl IdTokenListener for SignInSet {
    fn id_token_issued(&mut self, event: &IdTokenEvent, ctx: &EventContext) {
        let claims = event.claims();
        let Some(sub) = claims.get("sub") else {
            log::warn("ID token without sub: no SET");
            return;
        };
        // Claim values come as JSON text: spliced in as they are.
        let mut body = format!(
            r#"{{"subject":{{"format":"iss_sub","iss":{},"sub":{sub}}}"#,
            quote(ctx.issuer())
        );
        if let Some(iat) = claims.issued_at() {
            body.push_str(&format!(r#","event_timestamp":{iat}"#));
        }
        let client = ctx.client_id();
        let client = if client.is_empty() {
            claims.get("azp").map(str::to_owned).or_else(|| first_aud(&claims.audience()))
        } else {
            Some(quote(client))
        };
        if let Some(client) = client {
            body.push_str(&format!(r#","client_id":{client}"#));
        }
        for name in ["acr", "amr"] {
            if let Some(v) = claims.get(name) {
                body.push_str(&format!(r#","{name}":{v}"#));
            }
        }
        body.push('}');
        let content = format!(r#"{{"events":{{"{SESSION_ESTABLISHED}":{body}}}}}"#);
        let jws = match signer::sign_set(&content, None) {
            Ok(jws) => jws,
            Err(e) => {
                log::warn(&format!("SET not signed: {}", describe(&e)));
                return;
            }
        };
        match publish::publish("set", &jws) {
            Ok(()) => {}
            Err(PublishError::UnknownSink(_)) => log::info(&format!("SET {jws}")),
            Err(e) => log::warn(&format!("SET not published: {e:?}")),
        }
    }
}

fn first_aud(aud: &[String]) -> Option<String> {
    aud.first().map(|a| quote(a))
}

fn describe(e: &SignError) -> String {
    match e {
        SignError::NoKeyConfigured => "no signing key configured".into(),
        SignError::Refused(why) => format!("refused: {why}"),
        SignError::QuotaExceeded => "quota exceeded".into(),
        SignError::TooLarge(n) => format!("larger than {n} bytes"),
        SignError::AudienceNotAllowed(a) => format!("audience {a} not allowed"),
    }
}

tokenwatch_guest::export_id_token_listener!(SignInSet);
