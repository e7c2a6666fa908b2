//! Publishes one JSON message per issued ID token and access token to a sink: the
//! sandboxed counterpart of Connect2id's AWS SQS token event publisher. Which queue (or
//! file, or HTTP receiver) the sink delivers to is the host's business; this guest only
//! builds the message and enqueues it.
//!
//! Properties:
//!
//! - `sink` (required): the name of a sink granted to this listener;
//! - `claims`: the claims to publish, comma-separated, in message order (default `sub,iat`).
//!   Names are trimmed, empty items dropped, repeats ignored; at least one is needed. These
//!   are also the claims the listener declares, so the host hands over nothing else;
//! - `include.<name>=<value>`: adds the member `<name>` with the string `<value>` to every
//!   message, after the claims, by name (the counterpart of the Java system properties the
//!   original can include). A listed claim of the same name wins: the include is skipped.
//!
//! Each message is one JSON object without spaces: the listed claims the token has, each
//! with its JSON value as issued (a claim the token lacks is left out), then the includes.
//! With `include.region=eu-1`, an ID token for alice issued at 1523304728 gives
//!
//! ```json
//! {"sub":"alice","iat":1523304728,"region":"eu-1"}
//! ```
//!
//! A failed publish (unknown-sink, too-large, queue-full) is logged at `warn` the first time
//! for each kind of failure, then only counted; the counts are logged at shutdown.
use tokenwatch_guest::json::quote;
use tokenwatch_guest::{
    log, publish, AccessTokenEvent, AccessTokenListener, Claims, Declaration, EventContext, IdTokenEvent,
    IdTokenListener, Listener, Properties, PublishError,
};

const DEFAULT_CLAIMS: &str = "sub,iat";
const INCLUDE: &str = "include.";
/// The publish failures by kind, in the order of `wit/listener.wit`.
const FAILURES: [&str; 3] = ["unknown-sink", "too-large", "queue-full"];

#[derive(Default)]
struct SqsPublisher {
    sink: String,
    /// The claims to publish, in order (also the declared claims).
    claims: Vec<String>,
    /// The `include.*` members as (name, value), by name.
    includes: Vec<(String, String)>,
    /// The message being built, reused from one event to the next.
    message: String,
    /// Failed publishes, by kind (index into `FAILURES`).
    failures: [u64; 3],
}

impl Listener for SqsPublisher {
    fn init(&mut self, properties: &Properties) -> Result<(), String> {
        self.sink = match properties.get("sink").map(str::trim) {
            Some(sink) if !sink.is_empty() => sink.to_owned(),
            _ => {
                return Err(r#"sqs-publisher: property "sink" is required: the name of a sink granted to this listener"#
                    .to_owned())
            }
        };
        self.claims = Vec::new();
        for name in properties.get("claims").unwrap_or(DEFAULT_CLAIMS).split(',').map(str::trim) {
            if !name.is_empty() && !self.claims.iter().any(|c| c == name) {
                self.claims.push(name.to_owned());
            }
        }
        if self.claims.is_empty() {
            return Err(r#"sqs-publisher: property "claims" names no claim: give a comma-separated list such as "sub,iat""#
                .to_owned());
        }
        self.includes = Vec::new();
        for (key, value) in properties {
            let Some(name) = key.strip_prefix(INCLUDE) else { continue };
            if name.is_empty() {
                return Err(format!(
                    r#"sqs-publisher: property "{key}" names no member: write include.<name>=<value>"#
                ));
            }
            if self.claims.iter().any(|c| c == name) {
                log::warn(&format!(r#"property "{key}" is skipped: "{name}" is one of the claims, which wins"#));
            }
            self.includes.push((name.to_owned(), value.to_owned()));
        }
        // Properties come sorted by key, hence by name; sorted again so as not to depend on it.
        self.includes.sort();
        let includes: Vec<&str> = self.includes.iter().map(|(name, _)| name.as_str()).collect();
        log::info(&format!(
            "init sink={} claims={} includes={}",
            self.sink,
            self.claims.join(","),
            if includes.is_empty() { "-".to_owned() } else { includes.join(",") }
        ));
        Ok(())
    }

    fn declare(&self) -> Declaration {
        let includes = self.includes.iter().map(|(name, _)| format!("{INCLUDE}{name}"));
        Declaration::claims(&self.claims)
            .properties(["claims".to_owned(), "sink".to_owned()].into_iter().chain(includes))
    }

    fn shutdown(&mut self) {
        let total: u64 = self.failures.iter().sum();
        if total > 0 {
            let counts: Vec<String> = FAILURES
                .iter()
                .zip(self.failures)
                .filter(|&(_, n)| n > 0)
                .map(|(kind, n)| format!("{kind}={n}"))
                .collect();
            log::warn(&format!(
                r#"{total} messages not published to sink "{}": {}"#,
                self.sink,
                counts.join(" ")
            ));
        }
    }
}

impl IdTokenListener for SqsPublisher {
    fn id_token_issued(&mut self, event: &IdTokenEvent, _ctx: &EventContext) {
        self.publish(event.claims());
    }
}

impl AccessTokenListener for SqsPublisher {
    fn access_token_issued(&mut self, event: &AccessTokenEvent, _ctx: &EventContext) {
        self.publish(event.claims());
    }
}

impl SqsPublisher {
    fn publish(&mut self, claims: &Claims) {
        build_message(&mut self.message, |name| claims.get(name), &self.claims, &self.includes);
        if let Err(error) = publish::publish(&self.sink, &self.message) {
            self.failed(&error);
        }
    }

    /// Counts a failed publish; the first of each kind in this instance is logged.
    fn failed(&mut self, error: &PublishError) {
        let (kind, why) = match error {
            PublishError::UnknownSink(_) => (0, "no sink of that name is granted to this listener".to_owned()),
            PublishError::TooLarge(cap) => {
                (1, format!("the message has {} bytes, the sink takes at most {cap}", self.message.len()))
            }
            PublishError::QueueFull => (2, "the sink's queue is full, the message was dropped".to_owned()),
        };
        self.failures[kind] += 1;
        if self.failures[kind] == 1 {
            let (sink, kind) = (&self.sink, FAILURES[kind]);
            log::warn(&format!(
                r#"publish to sink "{sink}" failed: {kind} ({why}); further {kind} failures are only counted until shutdown"#
            ));
        }
    }
}

/// Writes the message of one token into `out` (cleared first): a JSON object of the claims
/// `names` that `claims` has, each value its JSON text as issued, then `includes` (sorted
/// by name) as strings.
fn build_message<'c>(
    out: &mut String,
    claims: impl Fn(&str) -> Option<&'c str>,
    names: &[String],
    includes: &[(String, String)],
) {
    out.clear();
    out.push('{');
    for name in names {
        // (Empty text is no JSON value; splicing it in would break the message.)
        if let Some(value) = claims(name).filter(|v| !v.is_empty()) {
            member(out, name);
            out.push_str(value);
        }
    }
    for (name, value) in includes {
        // A listed claim and an include of the same name: the claim wins and the include is
        // skipped, even for a token without that claim, so that a member means the same
        // thing in every message.
        if names.contains(name) {
            continue;
        }
        member(out, name);
        push_quoted(out, value);
    }
    out.push('}');
}

/// Starts the member `name` of the object being written to `out`.
fn member(out: &mut String, name: &str) {
    if out.len() > 1 {
        out.push(',');
    }
    push_quoted(out, name);
    out.push(':');
}

/// `s` as a JSON string: copied between quotes when it needs no escape (the usual case, no
/// allocation), else through the SDK's `quote`.
fn push_quoted(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&quote(s));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

tokenwatch_guest::export_listener!(SqsPublisher);

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The message for a token whose claims are `token` (name, JSON text).
    fn message(token: &[(&str, &str)], names: &[&str], includes: &[(&str, &str)]) -> String {
        let mut out = String::from("left over from the previous event");
        let lookup = |name: &str| token.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        build_message(&mut out, lookup, &strings(names), &pairs(includes));
        out
    }

    #[test]
    fn the_documented_example() {
        let token = [("iss", r#""https://c2id.com""#), ("sub", r#""alice""#), ("iat", "1523304728")];
        assert_eq!(
            message(&token, &["sub", "iat"], &[("region", "eu-1")]),
            r#"{"sub":"alice","iat":1523304728,"region":"eu-1"}"#
        );
    }

    #[test]
    fn claims_in_listed_order_with_values_as_issued() {
        let token = [("sub", r#""bob""#), ("amr", r#"["pwd","otp"]"#), ("cnf", r#"{"x5t#S256":"q\"x"}"#)];
        assert_eq!(
            message(&token, &["cnf", "amr", "sub"], &[]),
            r#"{"cnf":{"x5t#S256":"q\"x"},"amr":["pwd","otp"],"sub":"bob"}"#
        );
    }

    #[test]
    fn absent_claims_are_left_out() {
        let token = [("iat", "1523304728")];
        assert_eq!(message(&token, &["sub", "iat", "acr"], &[]), r#"{"iat":1523304728}"#);
        assert_eq!(message(&token, &["sub"], &[("a", "1")]), r#"{"a":"1"}"#);
        assert_eq!(message(&token, &["sub"], &[]), "{}");
        assert_eq!(message(&[("sub", "")], &["sub"], &[]), "{}");
    }

    #[test]
    fn include_values_and_names_are_escaped() {
        assert_eq!(
            message(&[], &["sub"], &[("a\"b", "say \"hi\" C:\\tmp\n\t\u{1}\u{1f}é")]),
            r#"{"a\"b":"say \"hi\" C:\\tmp\u000a\u0009\u0001\u001fé"}"#
        );
        assert_eq!(message(&[], &["sub"], &[("e", "")]), r#"{"e":""}"#);
    }

    #[test]
    fn a_claim_wins_over_an_include_of_the_same_name() {
        let token = [("sub", r#""alice""#)];
        let includes = [("iat", "0"), ("region", "eu-1"), ("sub", "nobody")];
        assert_eq!(message(&token, &["sub"], &includes), r#"{"sub":"alice","iat":"0","region":"eu-1"}"#);
        // Skipped even when the token lacks the claim.
        assert_eq!(message(&token, &["sub", "iat"], &includes), r#"{"sub":"alice","region":"eu-1"}"#);
    }

    #[test]
    fn the_buffer_is_reused() {
        let mut out = String::new();
        let names = strings(&["sub"]);
        build_message(&mut out, |_| Some(r#""a-rather-long-subject-identifier""#), &names, &[]);
        let capacity = out.capacity();
        build_message(&mut out, |_| Some(r#""b""#), &names, &[]);
        assert_eq!(out, r#"{"sub":"b"}"#);
        assert_eq!(out.capacity(), capacity);
    }
}
