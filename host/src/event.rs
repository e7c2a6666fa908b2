//! Token issue events: parsed and validated once at ingress, then shared read-only by every
//! listener (`Arc<TokenEvent>`).

use serde::Deserialize;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::fmt;
use std::ops::Range;

/// Which SPI an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `IDTokenIssueEventListener.idTokenIssued`
    IdToken,
    /// `AccessTokenIssueEventListener.accessTokenIssued`
    AccessToken,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::IdToken => "id_token",
            EventKind::AccessToken => "access_token",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An immutable JWT claims set, in the token's order. Its JSON text is rendered once, at
/// ingress, with the span of each claim's value in it: every listener asking for the set or
/// for one claim then gets a copy of ready text (`get` on `amr` cost 90 ns more per call when
/// it serialised on demand; `tokenwatch bench`, `host_call_ns`).
#[derive(Debug, Clone)]
pub struct Claims {
    map: IndexMap<String, Value>,
    json: String,
    /// Byte range of each claim's value in `json`, by the claim's index in `map`.
    spans: Vec<Range<usize>>,
}

impl Claims {
    pub fn new(claims: Map<String, Value>) -> Self {
        let mut json = Vec::with_capacity(64 * claims.len() + 2);
        let mut spans = Vec::with_capacity(claims.len());
        json.push(b'{');
        for (i, (name, value)) in claims.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            serde_json::to_writer(&mut json, name).expect("a string serializes");
            json.push(b':');
            let start = json.len();
            serde_json::to_writer(&mut json, value).expect("a JSON value serializes");
            spans.push(start..json.len());
        }
        json.push(b'}');
        let json = String::from_utf8(json).expect("serde_json writes UTF-8");
        Claims { map: claims.into_iter().collect(), json, spans }
    }

    /// One claim's JSON text.
    pub fn json_of(&self, name: &str) -> Option<&str> {
        let index = self.map.get_index_of(name)?;
        Some(&self.json[self.spans[index].clone()])
    }

    /// One claim's JSON text, owned.
    pub fn get_json(&self, name: &str) -> Option<String> {
        self.json_of(name).map(str::to_owned)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// The whole set as a JSON object.
    pub fn as_json(&self) -> &str {
        &self.json
    }

    pub fn string(&self, name: &str) -> Option<&str> {
        self.map.get(name).and_then(Value::as_str)
    }

    pub fn integer(&self, name: &str) -> Option<i64> {
        self.map.get(name).and_then(Value::as_i64)
    }

    /// `aud` as a list: RFC 7519 allows a single string or an array of strings.
    pub fn audience(&self) -> Vec<String> {
        match self.map.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The SPI's `EventContext`: who issued the token and to which client.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    pub issuer: String,
    pub client_id: String,
    /// The client's registered metadata as a JSON object (`{}` when unknown).
    pub client_metadata: String,
}

/// One issued token.
#[derive(Debug, Clone)]
pub struct TokenEvent {
    pub kind: EventKind,
    pub claims: Claims,
    /// The local subject when the ID token's `sub` is pairwise.
    pub local_subject: Option<String>,
    pub context: EventContext,
}

impl TokenEvent {
    /// An ID token event. The context defaults to the claims: issuer from `iss`, client from
    /// `client_id`, else `azp`, else the first `aud`.
    pub fn id_token(claims: Map<String, Value>) -> Self {
        Self::build(EventKind::IdToken, Claims::new(claims), None, None, None)
    }

    /// An access token event, with the same context defaults as [`TokenEvent::id_token`].
    pub fn access_token(claims: Map<String, Value>) -> Self {
        Self::build(EventKind::AccessToken, Claims::new(claims), None, None, None)
    }

    /// Set the issuer URL of the context.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.context.issuer = issuer.into();
        self
    }

    /// Set the client's registered information (must hold `client_id`).
    pub fn with_client(mut self, client: Map<String, Value>) -> Result<Self, EventError> {
        let (client_id, metadata) = client_info(client)?;
        self.context.client_id = client_id;
        self.context.client_metadata = metadata;
        Ok(self)
    }

    pub fn with_local_subject(mut self, local_subject: impl Into<String>) -> Self {
        self.local_subject = Some(local_subject.into());
        self
    }

    fn build(
        kind: EventKind,
        claims: Claims,
        issuer: Option<String>,
        client: Option<(String, String)>,
        local_subject: Option<String>,
    ) -> Self {
        let issuer = issuer
            .or_else(|| claims.string("iss").map(str::to_owned))
            .unwrap_or_default();
        let (client_id, client_metadata) = client.unwrap_or_else(|| {
            // Access tokens name the client in `client_id` (RFC 9068); ID tokens in `azp` or
            // `aud` (OIDC Core §2).
            let id = claims
                .string("client_id")
                .or_else(|| claims.string("azp"))
                .map(str::to_owned)
                .or_else(|| claims.audience().into_iter().next())
                .unwrap_or_default();
            (id, "{}".to_owned())
        });
        TokenEvent {
            kind,
            claims,
            local_subject,
            context: EventContext {
                issuer,
                client_id,
                client_metadata,
            },
        }
    }

    /// Parse one line of the newline-delimited JSON event format:
    /// `{"kind":"id_token"|"access_token","claims":{...},"issuer":"...","client":{...},"local_subject":"..."}`.
    pub fn from_json_line(line: &str) -> Result<Self, EventError> {
        let raw: RawEvent =
            serde_json::from_str(line).map_err(|e| EventError(format!("invalid event JSON: {e}")))?;
        let kind = match raw.kind.as_str() {
            "id_token" => EventKind::IdToken,
            "access_token" => EventKind::AccessToken,
            other => {
                return Err(EventError(format!(
                    "unknown kind {other:?}: expected \"id_token\" or \"access_token\""
                )))
            }
        };
        if kind == EventKind::AccessToken && raw.local_subject.is_some() {
            return Err(EventError(
                "local_subject is only for id_token events".to_owned(),
            ));
        }
        let client = raw.client.map(client_info).transpose()?;
        Ok(Self::build(
            kind,
            Claims::new(raw.claims),
            raw.issuer,
            client,
            raw.local_subject,
        ))
    }
}

fn client_info(client: Map<String, Value>) -> Result<(String, String), EventError> {
    let id = match client.get("client_id") {
        Some(Value::String(id)) => id.clone(),
        Some(_) => return Err(EventError("client.client_id must be a string".to_owned())),
        None => return Err(EventError("client has no client_id".to_owned())),
    };
    Ok((id, Value::Object(client).to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    kind: String,
    claims: Map<String, Value>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    client: Option<Map<String, Value>>,
    #[serde(default)]
    local_subject: Option<String>,
}

/// Why an event was rejected at ingress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_id_token_line_with_defaults_from_claims() {
        let e = TokenEvent::from_json_line(
            r#"{"kind":"id_token","claims":{"iss":"https://op","sub":"alice","aud":["app"]}}"#,
        )
        .unwrap();
        assert_eq!(e.kind, EventKind::IdToken);
        assert_eq!(e.context.issuer, "https://op");
        assert_eq!(e.context.client_id, "app");
        assert_eq!(e.context.client_metadata, "{}");
        assert_eq!(e.claims.names().collect::<Vec<_>>(), ["iss", "sub", "aud"]);
    }

    #[test]
    fn explicit_context_wins_over_claims() {
        let e = TokenEvent::from_json_line(
            r#"{"kind":"access_token","claims":{"iss":"a","client_id":"c1"},"issuer":"b","client":{"client_id":"c2","client_name":"X"}}"#,
        )
        .unwrap();
        assert_eq!(e.context.issuer, "b");
        assert_eq!(e.context.client_id, "c2");
        assert!(e.context.client_metadata.contains("client_name"));
    }

    #[test]
    fn rejects_bad_lines_with_a_reason() {
        let cases = [
            ("{", "invalid event JSON"),
            (r#"{"kind":"refresh_token","claims":{}}"#, "unknown kind"),
            (r#"{"kind":"id_token","claims":[]}"#, "invalid event JSON"),
            (r#"{"kind":"id_token","claims":{},"extra":1}"#, "unknown field"),
            (r#"{"kind":"access_token","claims":{},"local_subject":"x"}"#, "only for id_token"),
            (r#"{"kind":"id_token","claims":{},"client":{"name":"x"}}"#, "no client_id"),
        ];
        for (line, want) in cases {
            let err = TokenEvent::from_json_line(line).unwrap_err();
            assert!(err.0.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn rendered_json_and_claim_spans_match_serde() {
        let text = r#"{"sub":"a\"b","n":1,"x":{"k":[1,"\u00e9"]},"e":null,"s":"caf\u00e9"}"#;
        let map: Map<String, Value> = serde_json::from_str(text).unwrap();
        let claims = Claims::new(map.clone());
        assert_eq!(claims.as_json(), Value::Object(map.clone()).to_string());
        for (name, value) in &map {
            assert_eq!(claims.json_of(name), Some(value.to_string().as_str()), "{name}");
        }
        assert_eq!(claims.json_of("missing"), None);
        assert_eq!(Claims::new(Map::new()).as_json(), "{}");
    }

    #[test]
    fn audience_accepts_string_or_array() {
        let one = Claims::new(serde_json::from_str(r#"{"aud":"x"}"#).unwrap());
        let many = Claims::new(serde_json::from_str(r#"{"aud":["x","y"]}"#).unwrap());
        assert_eq!(one.audience(), ["x"]);
        assert_eq!(many.audience(), ["x", "y"]);
    }
}
