//! The event as handed to a handler: views over the bytes of the event encoding of
//! `wit/listener.wit` (contract 0.2), decoded in place.
//!
//! ```text
//! event  = issuer client-id local-subject client-metadata claims
//! field  = len:u32le bytes[len]  (UTF-8 text)  |  0xffffffff  (absent)
//! claims = field * N  (the N declared claims, in declared order)  |  field  (no claims
//!          declared: the whole claims set as one JSON object)
//! ```
//!
//! Nothing is copied: [`Claims`] walks the fields when asked (the declared lists are short)
//! and checks the UTF-8 of what it returns. A malformed buffer (cut short, not UTF-8) reads
//! as absent fields; the host always sends well-formed ones.

use std::borrow::Cow;
use std::fmt;

use crate::json;

/// The marker of an absent field.
const ABSENT: u32 = u32::MAX;

/// The field at the front of `buf` and the rest after it. A field cut short reads as absent
/// and so does everything after it.
fn field(buf: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let Some((len, rest)) = buf.split_first_chunk::<4>() else {
        return (None, &[]);
    };
    let len = u32::from_le_bytes(*len);
    if len == ABSENT {
        return (None, rest);
    }
    match rest.split_at_checked(len as usize) {
        Some((value, rest)) => (Some(value), rest),
        None => (None, &[]),
    }
}

/// A field as text; not UTF-8 reads as absent.
fn text(field: Option<&[u8]>) -> Option<&str> {
    json::utf8(field?)
}

/// An event split into its parts (each checked to be UTF-8 when read).
pub(crate) struct Decoded<'a> {
    pub(crate) context: EventContext<'a>,
    pub(crate) local_subject: Option<&'a [u8]>,
    pub(crate) claims: Claims<'a>,
}

/// Splits `event`. `declared` is the claim names of the listener's declaration, none when it
/// asked for the whole claims set.
pub(crate) fn decode<'a>(event: &'a [u8], declared: Option<&'a [String]>) -> Decoded<'a> {
    let (issuer, rest) = field(event);
    let (client_id, rest) = field(rest);
    let (local_subject, rest) = field(rest);
    let (client_metadata, rest) = field(rest);
    let context = EventContext { issuer, client_id, client_metadata };
    let repr = match declared {
        Some(names) => Repr::Declared { names, fields: rest },
        None => Repr::Whole(field(rest).0.unwrap_or_default()),
    };
    Decoded { context, local_subject, claims: Claims { repr } }
}

/// An issued ID token.
pub struct IdTokenEvent<'a> {
    pub(crate) claims: Claims<'a>,
    pub(crate) local_subject: Option<&'a [u8]>,
}

impl<'a> IdTokenEvent<'a> {
    /// The token's claims: the ones the listener declared (see
    /// [`Listener::declare`](crate::Listener::declare)).
    pub fn claims(&self) -> &Claims<'a> {
        &self.claims
    }
    /// The local subject when `sub` is pairwise, none otherwise.
    pub fn local_subject(&self) -> Option<&'a str> {
        text(self.local_subject)
    }
}

/// An issued access token.
pub struct AccessTokenEvent<'a> {
    pub(crate) claims: Claims<'a>,
}

impl<'a> AccessTokenEvent<'a> {
    /// The token's claims: the ones the listener declared (see
    /// [`Listener::declare`](crate::Listener::declare)).
    pub fn claims(&self) -> &Claims<'a> {
        &self.claims
    }
}

/// The context a token was issued in (the SPI's `EventContext`, less the signer, which is
/// [`signer`](crate::signer)).
#[derive(Clone, Copy)]
pub struct EventContext<'a> {
    issuer: Option<&'a [u8]>,
    client_id: Option<&'a [u8]>,
    client_metadata: Option<&'a [u8]>,
}

impl<'a> EventContext<'a> {
    /// The issuer URL of the OpenID provider / authorisation server.
    pub fn issuer(&self) -> &'a str {
        text(self.issuer).unwrap_or_default()
    }
    /// The `client_id` of the client the token was issued to; empty when unknown.
    pub fn client_id(&self) -> &'a str {
        text(self.client_id).unwrap_or_default()
    }
    /// The client's registered metadata (RFC 7591, `client_id` included) as the text of a
    /// JSON object, when the listener declared it
    /// ([`Declaration::client_metadata`](crate::Declaration::client_metadata)); none
    /// otherwise. [`json::member`] reads one member of it.
    pub fn client_metadata(&self) -> Option<&'a str> {
        text(self.client_metadata)
    }
}

impl fmt::Debug for EventContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventContext")
            .field("issuer", &self.issuer())
            .field("client_id", &self.client_id())
            .field("client_metadata", &self.client_metadata())
            .finish()
    }
}

/// The claims of an issued token that the listener declared, read in place from the event.
///
/// [`Claims::get`] gives a claim's JSON text exactly as issued (`"alice"`, `1700000000`,
/// `["pwd","otp"]`, `123456789012345678901234567890`); the typed accessors read that text
/// with [`json`] and give `None` when the claim is absent or has another JSON type.
///
/// What a listener can read is what it declared in
/// [`Listener::declare`](crate::Listener::declare): with
/// [`Declaration::claims`](crate::Declaration::claims), those claims only (any other name
/// reads as absent, and the first such read of an instance logs a warning that says how to
/// declare it); with [`Declaration::all_claims`](crate::Declaration::all_claims) (the
/// default), every claim of the token.
#[derive(Clone, Copy)]
pub struct Claims<'a> {
    repr: Repr<'a>,
}

#[derive(Clone, Copy)]
enum Repr<'a> {
    /// The declared names and their fields, in the same order.
    Declared { names: &'a [String], fields: &'a [u8] },
    /// The text of the claims set as one object (not yet checked to be UTF-8).
    Whole(&'a [u8]),
}

impl<'a> Claims<'a> {
    /// One claim as its JSON text as issued, or `None` when the token has no such claim or
    /// the listener did not declare it.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        match self.repr {
            Repr::Declared { names, fields } => {
                let Some(index) = names.iter().position(|n| n == name) else {
                    undeclared(name);
                    return None;
                };
                let mut rest = fields;
                for _ in 0..index {
                    rest = field(rest).1;
                }
                text(field(rest).0)
            }
            Repr::Whole(object) => {
                let value = json::Members::new(object).find(|(n, _)| json::name_is(n, name))?.1;
                json::utf8(value)
            }
        }
    }

    /// The names of the claims present, unescaped: the declared claims the token has, in
    /// declared order, or with [`Declaration::all_claims`](crate::Declaration::all_claims)
    /// every claim of the token, in the token's order.
    pub fn names(&self) -> Names<'a> {
        Names {
            repr: match self.repr {
                Repr::Declared { names, fields } => NamesRepr::Declared { names: names.iter(), fields },
                Repr::Whole(object) => NamesRepr::Whole(json::Members::new(object)),
            },
        }
    }

    /// The claims present as one JSON object: with
    /// [`Declaration::all_claims`](crate::Declaration::all_claims), the claims set exactly as
    /// the host sent it (borrowed); otherwise an object of the declared claims the token
    /// has, in declared order, each value as issued.
    pub fn to_json(&self) -> Cow<'a, str> {
        match self.repr {
            Repr::Whole(object) => Cow::Borrowed(json::utf8(object).filter(|s| !s.is_empty()).unwrap_or("{}")),
            Repr::Declared { names, mut fields } => {
                let mut out = String::from("{");
                for name in names {
                    let (value, rest) = field(fields);
                    fields = rest;
                    if let Some(value) = text(value) {
                        if out.len() > 1 {
                            out.push(',');
                        }
                        out.push_str(&json::quote(name));
                        out.push(':');
                        out.push_str(value);
                    }
                }
                out.push('}');
                Cow::Owned(out)
            }
        }
    }

    /// A string claim, unescaped (`"a\"b"` gives `a"b`); borrowed from the event when it has
    /// no escapes.
    pub fn get_str(&self, name: &str) -> Option<Cow<'a, str>> {
        json::parse_str_cow(self.get(name)?)
    }
    /// An integer claim that fits `i64` (no fraction, no exponent).
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        json::parse_i64(self.get(name)?)
    }
    /// A boolean claim, such as `email_verified`.
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        json::parse_bool(self.get(name)?)
    }
    /// A claim that is an array of strings, each unescaped. A single string is not a list:
    /// for `aud`, which may be either, use [`Claims::audience`].
    pub fn get_strings(&self, name: &str) -> Option<Vec<String>> {
        json::parse_strings(self.get(name)?)
    }

    /// `sub`, when it is a string.
    pub fn subject(&self) -> Option<Cow<'a, str>> {
        self.get_str("sub")
    }
    /// `iss`, when it is a string.
    pub fn issuer(&self) -> Option<Cow<'a, str>> {
        self.get_str("iss")
    }
    /// `aud` as a list: a single string becomes a list of one; absent (or neither a string
    /// nor an array of strings) is empty.
    pub fn audience(&self) -> Vec<String> {
        let Some(aud) = self.get("aud") else { return Vec::new() };
        match json::parse_str(aud) {
            Some(one) => vec![one],
            None => json::parse_strings(aud).unwrap_or_default(),
        }
    }
    /// `iat` in seconds since the epoch, when it is an integer.
    pub fn issued_at(&self) -> Option<i64> {
        self.get_i64("iat")
    }
    /// `exp` in seconds since the epoch, when it is an integer.
    pub fn expires_at(&self) -> Option<i64> {
        self.get_i64("exp")
    }
    /// `client_id`, when it is a string (access tokens, RFC 9068). The client of any token
    /// is also [`EventContext::client_id`].
    pub fn client_id(&self) -> Option<Cow<'a, str>> {
        self.get_str("client_id")
    }
    /// `scope`, the space-separated scope string, when it is a string.
    pub fn scope(&self) -> Option<Cow<'a, str>> {
        self.get_str("scope")
    }
    /// `jti`, when it is a string.
    pub fn jwt_id(&self) -> Option<Cow<'a, str>> {
        self.get_str("jti")
    }
    /// `acr`, the authentication context class reference, when it is a string.
    pub fn acr(&self) -> Option<Cow<'a, str>> {
        self.get_str("acr")
    }
    /// `amr`, the authentication methods references, when it is an array of strings.
    pub fn amr(&self) -> Option<Vec<String>> {
        self.get_strings("amr")
    }
    /// `auth_time` in seconds since the epoch, when it is an integer.
    pub fn auth_time(&self) -> Option<i64> {
        self.get_i64("auth_time")
    }
}

impl fmt::Debug for Claims<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Claims").field(&self.to_json()).finish()
    }
}

/// The iterator of [`Claims::names`].
pub struct Names<'a> {
    repr: NamesRepr<'a>,
}

enum NamesRepr<'a> {
    Declared { names: std::slice::Iter<'a, String>, fields: &'a [u8] },
    Whole(json::Members<'a>),
}

impl<'a> Iterator for Names<'a> {
    type Item = Cow<'a, str>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.repr {
            NamesRepr::Declared { names, fields } => loop {
                let name = names.next()?;
                let (value, rest) = field(fields);
                *fields = rest;
                if text(value).is_some() {
                    return Some(Cow::Borrowed(name.as_str()));
                }
            },
            // A name that is not a valid JSON string (malformed object) is left out.
            NamesRepr::Whole(members) => members.find_map(|(name, _)| json::member_name(name)),
        }
    }
}

thread_local! {
    /// Whether this instance warned of an undeclared claim (a Wasm instance is one thread).
    static WARNED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The first read of an undeclared claim in this instance logs a warning.
#[cold]
#[inline(never)]
fn undeclared(name: &str) {
    if WARNED.with(|w| w.replace(true)) {
        return;
    }
    // `concat`, not `format!` with `json::quote`: this cold path stays small in every guest.
    warn(&[
        "claim \"",
        name,
        "\" was not declared, so it reads as absent: a listener reads only the claims it declares; \
         add \"",
        name,
        "\" to `Declaration::claims` in `Listener::declare`, or declare `Declaration::all_claims()` \
         (this warning is logged once per instance)",
    ]
    .concat());
}

#[cfg(not(test))]
fn warn(message: &str) {
    crate::log::warn(message)
}

// The log import exists only in Wasm: unit tests see the warnings here.
#[cfg(test)]
thread_local! {
    pub(crate) static WARNINGS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
fn warn(message: &str) {
    WARNINGS.with(|w| w.borrow_mut().push(message.to_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's side of the encoding, for the tests.
    fn encode(fields: &[Option<&str>]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in fields {
            match f {
                Some(text) => {
                    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
                None => out.extend_from_slice(&ABSENT.to_le_bytes()),
            }
        }
        out
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn warnings() -> Vec<String> {
        WARNINGS.with(|w| w.borrow().clone())
    }

    /// A fresh instance's warning state (tests may share a thread: `--test-threads=1`).
    fn fresh_instance() {
        WARNED.with(|w| w.set(false));
        WARNINGS.with(|w| w.borrow_mut().clear());
    }

    const ISSUER: &str = "https://c2id.example.com";

    #[test]
    fn declared_claims_present_and_absent() {
        fresh_instance();
        let declared = names(&["sub", "iat", "acr", "amr", "big", "esc", "aud"]);
        let event = encode(&[
            Some(ISSUER),
            Some("client-123"),
            None,
            None,
            Some(r#""alice""#),
            Some("1700000000"),
            None,
            Some(r#"["pwd","otp"]"#),
            Some("123456789012345678901234567890"),
            Some(r#""a\"b\u00e9""#),
            Some(r#""rp""#),
        ]);
        let d = decode(&event, Some(&declared));
        let c = d.claims;
        assert_eq!(c.get("sub"), Some(r#""alice""#));
        assert!(matches!(c.subject(), Some(Cow::Borrowed("alice"))));
        assert_eq!(c.issued_at(), Some(1_700_000_000));
        assert_eq!(c.get("iat"), Some("1700000000"));
        assert_eq!(c.get("acr"), None);
        assert_eq!(c.acr(), None);
        assert_eq!(c.get("amr"), Some(r#"["pwd","otp"]"#));
        assert_eq!(c.amr(), Some(vec!["pwd".to_string(), "otp".to_string()]));
        assert_eq!(c.get("big"), Some("123456789012345678901234567890"));
        assert_eq!(c.get_i64("big"), None);
        assert!(matches!(c.get_str("esc"), Some(Cow::Owned(s)) if s == "a\"bé"));
        assert_eq!(c.audience(), ["rp"]);
        assert_eq!(c.get_str("amr"), None); // another JSON type
        assert_eq!(c.names().collect::<Vec<_>>(), ["sub", "iat", "amr", "big", "esc", "aud"]);
        assert_eq!(
            c.to_json(),
            r#"{"sub":"alice","iat":1700000000,"amr":["pwd","otp"],"big":123456789012345678901234567890,"esc":"a\"b\u00e9","aud":"rp"}"#
        );
        assert!(warnings().is_empty(), "{:?}", warnings());
    }

    #[test]
    fn an_undeclared_name_reads_as_absent_and_warns_once() {
        fresh_instance();
        let declared = names(&["sub"]);
        let event = encode(&[Some(ISSUER), Some(""), None, None, Some(r#""alice""#)]);
        let c = decode(&event, Some(&declared)).claims;
        assert_eq!(c.get("acr"), None);
        assert_eq!(c.issued_at(), None);
        assert_eq!(c.get("sub"), Some(r#""alice""#));
        let w = warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with(r#"claim "acr" was not declared"#), "{w:?}");
        assert!(w[0].contains("Listener::declare"), "{w:?}");
    }

    #[test]
    fn no_declared_claims_reads_nothing() {
        fresh_instance();
        let declared = names(&[]);
        let event = encode(&[Some(ISSUER), Some("c"), None, None]);
        let c = decode(&event, Some(&declared)).claims;
        assert_eq!(c.names().count(), 0);
        assert_eq!(c.to_json(), "{}");
        assert_eq!(c.get("sub"), None);
        assert_eq!(warnings().len(), 1);
    }

    #[test]
    fn whole_object_mode() {
        fresh_instance();
        let object = r#"{"sub":"alice","n\u0061me":"escaped","nested":{"sub":"inner","a":[1,{"b":"]}"}]},"big":123456789012345678901234567890,"e":1e2,"aud":["rp1","rp2"],"iat":1700000000,"email_verified":true,"s\"q":1}"#;
        let event = encode(&[Some(ISSUER), Some("client-123"), Some("local-7"), Some(r#"{"client_name":"x"}"#), Some(object)]);
        let d = decode(&event, None);
        let c = d.claims;
        assert_eq!(c.get("sub"), Some(r#""alice""#));
        assert_eq!(c.get("name"), Some(r#""escaped""#));
        assert_eq!(c.get("nested"), Some(r#"{"sub":"inner","a":[1,{"b":"]}"}]}"#));
        assert_eq!(c.get("a"), None); // only top-level members
        assert_eq!(c.get("big"), Some("123456789012345678901234567890"));
        assert_eq!(c.get("e"), Some("1e2"));
        assert_eq!(c.get("s\"q"), Some("1"));
        assert_eq!(c.audience(), ["rp1", "rp2"]);
        assert_eq!(c.issued_at(), Some(1_700_000_000));
        assert_eq!(c.get_bool("email_verified"), Some(true));
        assert_eq!(c.get("acr"), None);
        assert!(matches!(c.to_json(), Cow::Borrowed(s) if s == object));
        assert_eq!(
            c.names().collect::<Vec<_>>(),
            ["sub", "name", "nested", "big", "e", "aud", "iat", "email_verified", "s\"q"]
        );
        assert!(warnings().is_empty(), "every claim is declared: {:?}", warnings());
        assert_eq!(text(d.local_subject), Some("local-7"));
        assert_eq!(d.context.client_metadata(), Some(r#"{"client_name":"x"}"#));
    }

    #[test]
    fn context_fields() {
        fresh_instance();
        let event = encode(&[Some(ISSUER), Some("client-123"), None, Some(r#"{"client_id":"client-123"}"#), Some("{}")]);
        let d = decode(&event, None);
        assert_eq!(d.context.issuer(), ISSUER);
        assert_eq!(d.context.client_id(), "client-123");
        assert_eq!(d.context.client_metadata(), Some(r#"{"client_id":"client-123"}"#));
        assert_eq!(json::member(d.context.client_metadata().unwrap(), "client_id"), Some(r#""client-123""#));
        assert_eq!(d.local_subject, None);
        assert_eq!(d.claims.names().count(), 0);

        // Unknown client, metadata not declared.
        let event = encode(&[Some(ISSUER), Some(""), None, None, Some("{}")]);
        let d = decode(&event, None);
        assert_eq!(d.context.client_id(), "");
        assert_eq!(d.context.client_metadata(), None);
    }

    #[test]
    fn a_malformed_buffer_reads_as_absent() {
        fresh_instance();
        let declared = names(&["sub", "iat"]);
        let full = encode(&[Some(ISSUER), Some("client-123"), None, None, Some(r#""alice""#), Some("1700000000")]);
        // Every prefix: no panic, and what is there is read up to the cut.
        for cut in 0..full.len() {
            let d = decode(&full[..cut], Some(&declared));
            let _ = (d.context.issuer(), d.context.client_id(), d.context.client_metadata(), text(d.local_subject));
            let c = d.claims;
            let _ = (c.get("sub"), c.get("iat"), c.names().count(), c.to_json());
            assert_eq!(c.issued_at(), None, "cut at {cut}");
            if cut < 4 + ISSUER.len() {
                assert_eq!(d.context.issuer(), "", "cut at {cut}");
            }
        }
        let d = decode(&full, Some(&declared));
        assert_eq!(d.claims.issued_at(), Some(1_700_000_000));

        // A length past the end, and text that is not UTF-8.
        let mut long = encode(&[Some(ISSUER)]);
        long.extend_from_slice(&1000u32.to_le_bytes());
        long.extend_from_slice(b"client");
        let d = decode(&long, None);
        assert_eq!((d.context.issuer(), d.context.client_id()), (ISSUER, ""));
        assert_eq!(d.claims.to_json(), "{}");

        let mut bad = Vec::new();
        for f in [&b"\xff\xfe"[..], b"client", b"\xc3", b"{\"a\":1}", b"{\"sub\":\"\xff\",\"iat\":1}"] {
            bad.extend_from_slice(&(f.len() as u32).to_le_bytes());
            bad.extend_from_slice(f);
        }
        let d = decode(&bad, None);
        assert_eq!(d.context.issuer(), "");
        assert_eq!(d.context.client_id(), "client");
        assert_eq!(text(d.local_subject), None); // present, not UTF-8
        assert_eq!(d.context.client_metadata(), Some(r#"{"a":1}"#));
        assert_eq!(d.claims.get("sub"), None);
        assert_eq!(d.claims.get("iat"), Some("1"));
        assert_eq!(d.claims.to_json(), "{}");

        let d = decode(&[], None);
        assert_eq!(d.claims.to_json(), "{}");
        assert_eq!(d.claims.get("sub"), None);
    }
}
