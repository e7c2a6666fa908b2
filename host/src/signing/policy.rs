//! The SET policy (RFC 8417): what the host agrees to sign for a guest, and the envelope it
//! adds. All of it runs in the host; the guest only supplies content and picks an audience.
//!
//! - Header: `{"alg", "typ": "secevent+jwt", "kid"}`, fixed per key.
//! - Claims set by the host: `iss` (the configured issuer), `iat` (now), `jti` (128 random
//!   bits, base64url), `aud` (the listener's configured `set_audiences`: the one the guest
//!   picked with `audience`, else all of them — a string for one, an array for several —
//!   and no `aud` when none are configured).
//! - Claims a guest may supply: `sub` (string), `sub_id` (object with `format`), `txn`
//!   (string), `toe` (number), `events` (required: a non-empty object whose keys are URIs
//!   and values objects), and `iss`/`iat` only when equal to the host's (a differing value
//!   is refused, never replaced). A guest `jti` is always refused (the host makes it unique),
//!   and so is a guest `aud`: audiences come only from configuration, through `audience`.
//! - Never signed: `exp nbf nonce at_hash c_hash auth_time acr amr azp scope client_id cnf`
//!   at top level (RFC 8417 §4.1–4.3: they would let a SET pass as an ID token or an access
//!   token), nor any other claim.
//!
//! A refusal's text starts with the rule, then the claim: `forbidden-claim: exp: ...`.

use serde_json::{Map, Value};

/// Top-level claims the host signs when the guest supplies them.
pub const GUEST_CLAIMS: [&str; 5] = ["sub", "sub_id", "txn", "toe", "events"];

/// Claims that would let a SET pass as an ID token or access token (RFC 8417 §4.1–4.3).
pub const FORBIDDEN_CLAIMS: [&str; 12] = [
    "exp", "nbf", "nonce", "at_hash", "c_hash", "auth_time", "acr", "amr", "azp", "scope", "client_id", "cnf",
];

/// The SET content cap when the config sets none.
pub const DEFAULT_MAX_SET_BYTES: usize = 64 * 1024;

/// Why the host would not sign a SET (besides a missing key and the per-call quota, which
/// the `signer` import decides).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The content breaks the policy: the rule and claim, then why.
    #[error("refused: {0}")]
    Refused(String),
    /// The content is larger than the cap (in bytes).
    #[error("the SET content is larger than {0} bytes")]
    TooLarge(u32),
    /// The audience is not one of the listener's `set_audiences`.
    #[error("audience {0:?} is not configured for this listener")]
    AudienceNotAllowed(String),
}

fn refuse(rule: &str, claim: &str, why: impl std::fmt::Display) -> Refusal {
    Refusal::Refused(format!("{rule}: {claim}: {why}"))
}

/// A URI as RFC 8417 requires for event type keys: an RFC 3986 scheme, `:`, and more,
/// without spaces or control characters.
pub fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Check guest content and build the claims set: host claims first, then the guest's in its
/// order. `aud` is what the audience choice resolved to.
pub(crate) fn build_claims(
    content: &str,
    issuer: &str,
    iat: i64,
    jti: &str,
    aud: Option<Value>,
) -> Result<Map<String, Value>, Refusal> {
    let guest: Value = serde_json::from_str(content)
        .map_err(|e| refuse("not-json", "(content)", format!("the SET content is not valid JSON: {e}")))?;
    let Value::Object(guest) = guest else {
        return Err(refuse("not-object", "(content)", "the SET content must be a JSON object"));
    };
    let mut claims = Map::new();
    claims.insert("iss".into(), issuer.into());
    claims.insert("iat".into(), iat.into());
    claims.insert("jti".into(), jti.into());
    if let Some(aud) = aud {
        claims.insert("aud".into(), aud);
    }
    for (name, value) in &guest {
        match name.as_str() {
            "iss" => {
                if value.as_str() != Some(issuer) {
                    return Err(refuse("host-claim", "iss", format!("differs from the host's issuer {issuer:?}; the host sets `iss` (leave it out)")));
                }
            }
            "iat" => {
                if value.as_i64() != Some(iat) {
                    return Err(refuse("host-claim", "iat", "differs from the host's time of signing; the host sets `iat` (leave it out)"));
                }
            }
            "jti" => return Err(refuse("host-claim", "jti", "the host sets a unique `jti` (leave it out)")),
            "aud" => {
                return Err(refuse("host-claim", "aud", "audiences come only from the listener's configured `set_audiences`; pick one with the `audience` parameter"))
            }
            "sub" | "txn" if !value.is_string() => return Err(refuse("claim-type", name, "must be a string")),
            "toe" if !value.is_number() => return Err(refuse("claim-type", "toe", "must be a NumericDate (a number)")),
            "sub_id" if !value.get("format").is_some_and(Value::is_string) => {
                return Err(refuse("claim-type", "sub_id", "must be a subject identifier object with a `format` (RFC 9493)"))
            }
            "events" => {
                check_events(value)?;
                claims.insert(name.clone(), value.clone());
            }
            n if GUEST_CLAIMS.contains(&n) => {
                claims.insert(name.clone(), value.clone());
            }
            n if FORBIDDEN_CLAIMS.contains(&n) => {
                return Err(refuse("forbidden-claim", n, "never signed in a SET: it would let the SET pass as an ID token or an access token (RFC 8417 §4.1-4.3)"))
            }
            n => {
                return Err(refuse("unknown-claim", n, format!("not a SET claim the host signs (allowed: iss, iat, jti, aud, {})", GUEST_CLAIMS.join(", "))))
            }
        }
    }
    if !claims.contains_key("events") {
        return Err(refuse("events", "events", "missing: a SET must have an `events` object (RFC 8417 §2.2)"));
    }
    Ok(claims)
}

fn check_events(events: &Value) -> Result<(), Refusal> {
    let Value::Object(events) = events else {
        return Err(refuse("events", "events", "must be a JSON object (RFC 8417 §2.2)"));
    };
    if events.is_empty() {
        return Err(refuse("events", "events", "must hold at least one event"));
    }
    for (uri, payload) in events {
        if !is_uri(uri) {
            return Err(refuse("events", "events", format!("the event type {uri:?} is not a URI")));
        }
        if !payload.is_object() {
            return Err(refuse("events", "events", format!("the payload of {uri:?} is not a JSON object")));
        }
    }
    Ok(())
}
