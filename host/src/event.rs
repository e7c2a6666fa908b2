//! Token issue events: parsed and validated once at ingress, then shared read-only by every
//! listener (`Arc<TokenEvent>`).

use serde::Deserialize;
use serde_json::value::RawValue;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::fmt;
use std::io::{self, BufRead};
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

/// An immutable JWT claims set, in the token's order. Its JSON text is kept once, at
/// ingress, with the span of each claim's value in it: every listener asking for the set or
/// for one claim then gets a copy of ready text (`get` on `amr` cost 90 ns more per call when
/// it serialised on demand; `tokenwatch bench`, `call_ns`).
///
/// Claims parsed from JSON text (`Claims::from_json`, the NDJSON ingress) keep each value's
/// text **exactly as issued**: `123456789012345678901234567890` stays that, `1e2` stays `1e2`
/// (a parsed number would become `1.2345678901234568e+29` and `100.0`), and a claims set that
/// names a claim twice is refused, since which value a JWT library keeps is not defined.
#[derive(Debug, Clone)]
pub struct Claims {
    /// Hashed with foldhash, not SipHash: contract 0.2 looks up every declared claim of
    /// every event here, and SipHash was a quarter of an empty listener call's host work.
    /// foldhash's seed is random per process, so names cannot be chosen to collide.
    map: IndexMap<String, Value, ClaimHasher>,
    json: String,
    /// Byte range of each claim's value in `json`, by the claim's index in `map`.
    spans: Vec<Range<usize>>,
}

impl Claims {
    /// Claims from parsed values (the embedding API). Numbers are written as serde_json
    /// holds them; to keep a token's text exactly, use [`Claims::from_json`].
    pub fn new(claims: Map<String, Value>) -> Self {
        Self::render(claims.into_iter().map(|(name, value)| (name, value, None)))
    }

    /// Claims from a JWT claims set's JSON text, each value kept exactly as written (only
    /// the whitespace between members is dropped). A claim named twice is an error.
    pub fn from_json(text: &str) -> Result<Self, EventError> {
        let raw: RawClaims = serde_json::from_str(text).map_err(|e| EventError(format!("invalid claims JSON: {e}")))?;
        raw.into_claims()
    }

    /// The set's JSON text and the spans, written into one buffer: each value's text as
    /// issued when there is one, else the value serialised.
    fn render(members: impl Iterator<Item = (String, Value, Option<Box<RawValue>>)>) -> Self {
        let mut json = Vec::with_capacity(256);
        let mut spans = Vec::new();
        let mut map = IndexMap::default();
        json.push(b'{');
        for (i, (name, value, raw)) in members.enumerate() {
            if i > 0 {
                json.push(b',');
            }
            serde_json::to_writer(&mut json, &name).expect("a string serializes");
            json.push(b':');
            let start = json.len();
            match raw {
                Some(raw) => json.extend_from_slice(raw.get().as_bytes()),
                None => serde_json::to_writer(&mut json, &value).expect("a JSON value serializes"),
            }
            spans.push(start..json.len());
            map.insert(name, value);
        }
        json.push(b'}');
        let json = String::from_utf8(json).expect("serde_json and raw JSON text are UTF-8");
        Claims { map, json, spans }
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
    /// An event of `kind` with `claims` (for claims kept exactly as issued, build them with
    /// [`Claims::from_json`]), with the same context defaults as [`TokenEvent::id_token`].
    pub fn new(kind: EventKind, claims: Claims) -> Self {
        Self::build(kind, claims, None, None, None)
    }

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
        if line.starts_with('\u{feff}') {
            return Err(EventError(
                "a byte order mark (U+FEFF) before the JSON: write UTF-8 without a BOM".to_owned(),
            ));
        }
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
            raw.claims.into_claims()?,
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

type ClaimHasher = foldhash::fast::RandomState;

/// A claims object as issued: each value's JSON text, in order, names checked for duplicates.
struct RawClaims(IndexMap<String, Box<RawValue>>);

impl RawClaims {
    /// The claims, each value also parsed (for the typed accessors `string`, `integer`,
    /// `audience`): a value the raw scan let through but that does not parse (a lone UTF-16
    /// surrogate in a string) is an error.
    fn into_claims(self) -> Result<Claims, EventError> {
        let mut members = Vec::with_capacity(self.0.len());
        for (name, raw) in self.0 {
            let value = serde_json::from_str(raw.get())
                .map_err(|e| EventError(format!("claim {name:?}: invalid JSON value: {e}")))?;
            members.push((name, value, Some(raw)));
        }
        Ok(Claims::render(members.into_iter()))
    }
}

impl<'de> Deserialize<'de> for RawClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = RawClaims;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<RawClaims, A::Error> {
                let mut members = IndexMap::new();
                while let Some(name) = access.next_key::<String>()? {
                    // A hash lookup: a line of many claims costs no quadratic scan.
                    if members.contains_key(&name) {
                        return Err(serde::de::Error::custom(format_args!(
                            "the claim {name:?} appears twice: a claims set names each claim once"
                        )));
                    }
                    let value = access.next_value()?;
                    members.insert(name, value);
                }
                Ok(RawClaims(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    kind: String,
    claims: RawClaims,
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

/// Longest event line accepted, in bytes, not counting its line ending (`\n` or `\r\n`).
/// A longer line is skipped up to its newline without being held in memory and reported as
/// that line's error. 1 MiB is hundreds of times a real token's claims set.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What one line of newline-delimited JSON holds.
#[derive(Debug)]
pub enum Ingress {
    /// A valid event.
    Event(TokenEvent),
    /// Only whitespace: ignored.
    Blank,
    /// Anything else: not UTF-8, longer than [`MAX_LINE_BYTES`], not JSON, not an event.
    Bad(EventError),
}

/// Reads newline-delimited JSON events from bytes (a file, standard input, a request body).
/// Whatever bytes a line holds, they are that line's error and the next line is read as
/// usual: only a failure to read the input itself ends the stream.
pub struct EventLines<R> {
    input: R,
    buf: Vec<u8>,
    next_index: usize,
}

impl<R: BufRead> EventLines<R> {
    pub fn new(input: R) -> Self {
        EventLines { input, buf: Vec::new(), next_index: 0 }
    }

    /// The next line: its 0-based index (blank and bad lines count) and what it holds.
    /// `None` at the end of the input; `Err` only when the input cannot be read.
    pub fn next_event(&mut self) -> io::Result<Option<(usize, Ingress)>> {
        let Some((index, text)) = self.next_text()? else {
            return Ok(None);
        };
        let ingress = match text {
            Err(e) => Ingress::Bad(e),
            Ok(text) if text.trim().is_empty() => Ingress::Blank,
            Ok(text) => match TokenEvent::from_json_line(text) {
                Ok(event) => Ingress::Event(event),
                Err(e) => Ingress::Bad(e),
            },
        };
        Ok(Some((index, ingress)))
    }

    /// The next line as text, without its line ending: its 0-based index and the text, or
    /// why it is not text (invalid UTF-8, too long). `None` at the end of the input.
    pub fn next_text(&mut self) -> io::Result<Option<(usize, Result<&str, EventError>)>> {
        self.buf.clear();
        // Bytes of the line so far, ending included; at most MAX_LINE_BYTES + 1 are kept
        // (room for the `\r` of a `\r\n` ending).
        let mut len = 0usize;
        let mut ended = false;
        loop {
            let available = match self.input.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let (take, found) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (at, true),
                None => (available.len(), false),
            };
            let room = (MAX_LINE_BYTES + 1).saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&available[..take.min(room)]);
            len += take;
            self.input.consume(take + usize::from(found));
            if found {
                ended = true;
                break;
            }
        }
        if len == 0 && !ended {
            return Ok(None);
        }
        let index = self.next_index;
        self.next_index += 1;
        if self.buf.last() == Some(&b'\r') && len <= MAX_LINE_BYTES + 1 {
            self.buf.pop();
            len -= 1;
        }
        if len > MAX_LINE_BYTES {
            return Ok(Some((
                index,
                Err(EventError(format!("line too long: {len} bytes, the limit is {MAX_LINE_BYTES}"))),
            )));
        }
        let text = std::str::from_utf8(&self.buf)
            .map_err(|e| EventError(format!("invalid UTF-8 at byte offset {}", e.valid_up_to())));
        Ok(Some((index, text)))
    }
}

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

    /// A seeded generator, so a failing case is the same on every run.
    use fastrand::Rng;

    fn valid_line(sub: &str) -> Vec<u8> {
        format!(r#"{{"kind":"id_token","claims":{{"sub":"{sub}","aud":"app"}}}}"#).into_bytes()
    }

    /// A line (no `\n` in it) of arbitrary bytes, biased towards what breaks line readers
    /// and JSON parsers: invalid UTF-8, NUL, CR, BOM, surrogates, deep nesting, cut events.
    fn junk_line(rng: &mut Rng) -> Vec<u8> {
        let mut line = match rng.usize(..10) {
            0 => (0..rng.usize(..48)).map(|_| rng.u8(..)).collect(),
            1 => {
                let mut l = valid_line("x");
                let at = rng.usize(..l.len() + 1);
                let bad: &[&[u8]] = &[b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\x80", b"\x80"];
                l.splice(at..at, bad[rng.usize(..bad.len())].iter().copied());
                l
            }
            2 => {
                let mut l = valid_line("x");
                let at = rng.usize(..l.len() + 1);
                l.insert(at, if rng.usize(..2) == 0 { 0 } else { b'\r' });
                l
            }
            3 => [&b"\xef\xbb\xbf"[..], &valid_line("x")].concat(),
            4 => br#"{"kind":"id_token","claims":{"sub":"\ud800"}}"#.to_vec(),
            5 => {
                let depth = 1 + rng.usize(..20_000);
                [b"{\"kind\":\"id_token\",\"claims\":{\"a\":".to_vec(), vec![b'['; depth]].concat()
            }
            6 => br#"{"kind":"id_token","claims":{},"x\n#9 id_token     p    ok\u001b[31m":1}"#.to_vec(),
            7 => {
                let ws: &[&[u8]] = &[b" ", b"\t", b"\r", b"\x0c", b"\xc2\xa0"];
                (0..rng.usize(..4)).flat_map(|_| ws[rng.usize(..ws.len())].to_vec()).collect()
            }
            8 => {
                let l = valid_line("x");
                l[..rng.usize(..l.len())].to_vec()
            }
            _ => b"not json".to_vec(),
        };
        for b in &mut line {
            if *b == b'\n' {
                *b = b'N';
            }
        }
        line
    }

    /// What a line should turn into, worked out without the reader.
    fn expect(line: &[u8]) -> Result<Option<String>, String> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = std::str::from_utf8(line).map_err(|e| format!("invalid UTF-8 at byte offset {}", e.valid_up_to()))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        TokenEvent::from_json_line(text).map(|e| Some(e.claims.string("sub").unwrap().to_owned())).map_err(|e| e.0)
    }

    fn read_all(input: impl BufRead) -> Vec<(usize, Result<Option<String>, String>)> {
        let mut lines = EventLines::new(input);
        let mut got = Vec::new();
        while let Some((index, ingress)) = lines.next_event().expect("reading a slice cannot fail") {
            got.push((
                index,
                match ingress {
                    Ingress::Event(e) => Ok(Some(e.claims.string("sub").unwrap().to_owned())),
                    Ingress::Blank => Ok(None),
                    Ingress::Bad(e) => Err(e.0),
                },
            ));
        }
        got
    }

    #[test]
    fn any_bytes_in_a_line_are_that_lines_error_and_the_other_lines_are_read() {
        let mut rng = Rng::with_seed(0x7e57_ab1e);
        for case in 0..3000 {
            let mut input = Vec::new();
            let mut want = Vec::new();
            let count = rng.usize(..12);
            for i in 0..count {
                let valid = rng.usize(..2) == 0;
                let line = if valid { valid_line(&format!("s{case}-{i}")) } else { junk_line(&mut rng) };
                input.extend_from_slice(&line);
                let crlf = rng.usize(..3) == 0;
                let last_unterminated = i + 1 == count && !line.is_empty() && rng.usize(..3) == 0;
                let as_read = if crlf && !last_unterminated { [&line[..], b"\r"].concat() } else { line.clone() };
                if !last_unterminated {
                    input.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                }
                let expected = expect(&as_read);
                if valid {
                    assert_eq!(expected, Ok(Some(format!("s{case}-{i}"))), "case {case}: the oracle");
                }
                want.push((i, expected));
            }
            let got = read_all(&input[..]);
            assert_eq!(got, want, "case {case}: {:?}", String::from_utf8_lossy(&input));
            // The same through a tiny buffer: lines, CRLFs and UTF-8 sequences cut across reads.
            let small = read_all(io::BufReader::with_capacity(1 + rng.usize(..7), &input[..]));
            assert_eq!(small, want, "case {case} (small buffer)");
        }
    }

    #[test]
    fn each_kind_of_bad_line_has_its_own_reason() {
        let input: &[u8] = b"{\"kind\":\"id_token\",\"claims\":{\"sub\":\"caf\xc3\"}}\n\
            \xef\xbb\xbf{\"kind\":\"id_token\",\"claims\":{}}\n\
            {\"kind\":\"id_token\",\"claims\":{\"sub\":\"a\x00b\"}}\n\
            {\"kind\":\"id_token\",\"claims\":{\"sub\":\"\\udc00\"}}\r\n\
            \r\n\
            {\"kind\":\"access_token\",\"claims\":{\"sub\":\"ok\"}}\r\n";
        let got = read_all(input);
        let reasons: Vec<String> = got.iter().map(|(_, r)| format!("{r:?}")).collect();
        assert_eq!(got.len(), 6, "{reasons:#?}");
        assert_eq!(got[0].1, Err("invalid UTF-8 at byte offset 39".into()));
        assert!(reasons[1].contains("byte order mark"), "{}", reasons[1]);
        assert!(reasons[2].contains("control character"), "{}", reasons[2]);
        assert!(reasons[3].contains("surrogate"), "{}", reasons[3]);
        assert_eq!(got[4], (4, Ok(None)), "a CRLF blank line");
        assert_eq!(got[5], (5, Ok(Some("ok".into()))));
        let deep = [&b"{\"kind\":\"id_token\",\"claims\":{\"a\":"[..], &vec![b'['; 100_000][..]].concat();
        let got = read_all(&deep[..]);
        assert!(matches!(&got[..], [(0, Err(e))] if e.contains("EOF while parsing")), "{got:?}");
        let balanced = [
            &b"{\"kind\":\"id_token\",\"claims\":{\"a\":"[..],
            &vec![b'['; 100_000][..],
            &vec![b']'; 100_000][..],
            &b"}}"[..],
        ]
        .concat();
        let got = read_all(&balanced[..]);
        assert!(matches!(&got[..], [(0, Err(e))] if e.contains("recursion limit")), "{got:?}");
    }

    /// `n` bytes of `a` without holding them, then `rest`.
    struct Endless {
        left: u64,
        rest: &'static [u8],
        chunk: Vec<u8>,
    }
    impl io::Read for Endless {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            unreachable!("EventLines reads through fill_buf")
        }
    }
    impl io::BufRead for Endless {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            if self.left > 0 {
                Ok(&self.chunk[..self.chunk.len().min(self.left as usize)])
            } else {
                Ok(self.rest)
            }
        }
        fn consume(&mut self, n: usize) {
            if self.left > 0 {
                self.left -= n as u64;
            } else {
                self.rest = &self.rest[n..];
            }
        }
    }

    #[test]
    fn an_over_long_line_is_skipped_without_being_held() {
        let huge = 256u64 << 20;
        let mut lines = EventLines::new(Endless {
            left: huge,
            rest: b"\n{\"kind\":\"id_token\",\"claims\":{\"sub\":\"after\"}}\n",
            chunk: vec![b'a'; 64 << 10],
        });
        let (index, first) = lines.next_event().unwrap().unwrap();
        assert_eq!(index, 0);
        match first {
            Ingress::Bad(e) => assert_eq!(e.0, format!("line too long: {huge} bytes, the limit is {MAX_LINE_BYTES}")),
            other => panic!("{other:?}"),
        }
        assert!(lines.buf.capacity() <= 2 * (MAX_LINE_BYTES + 1), "held {} bytes", lines.buf.capacity());
        let (index, second) = lines.next_event().unwrap().unwrap();
        assert!(index == 1 && matches!(&second, Ingress::Event(e) if e.claims.string("sub") == Some("after")), "{second:?}");
        assert!(lines.next_event().unwrap().is_none());

        // The limit itself: MAX_LINE_BYTES is accepted (a CRLF ending does not count), one
        // more is not.
        for (len, ending, too_long) in [(MAX_LINE_BYTES, &b"\r\n"[..], false), (MAX_LINE_BYTES, b"", false), (MAX_LINE_BYTES + 1, b"\n", true), (MAX_LINE_BYTES + 1, b"\r\n", true)] {
            let input = [vec![b' '; len], ending.to_vec()].concat();
            let got = read_all(&input[..]);
            let want = if too_long { Err(format!("line too long: {} bytes, the limit is {MAX_LINE_BYTES}", len + usize::from(ending.len() == 2))) } else { Ok(None) };
            assert_eq!(got, [(0, want)], "{len} bytes + {ending:?}");
        }
    }

    #[test]
    fn read_errors_end_the_stream_and_interruptions_do_not() {
        struct Flaky(u32);
        impl io::Read for Flaky {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                self.0 += 1;
                match self.0 {
                    1 => Err(io::ErrorKind::Interrupted.into()),
                    2 => {
                        out[..2].copy_from_slice(b" \n");
                        Ok(2)
                    }
                    _ => Err(io::Error::other("disk on fire")),
                }
            }
        }
        let mut lines = EventLines::new(io::BufReader::new(Flaky(0)));
        assert!(matches!(lines.next_event(), Ok(Some((0, Ingress::Blank)))));
        assert_eq!(lines.next_event().unwrap_err().to_string(), "disk on fire");
    }

    #[test]
    fn claims_are_handed_on_exactly_as_issued() {
        let line = r#"{"kind":"id_token","claims":{"sub":"a\u00e9","big":123456789012345678901234567890,"e":1e2,"f":-0.0,"list":[1, 2.50]}}"#;
        let e = TokenEvent::from_json_line(line).unwrap();
        assert_eq!(e.claims.json_of("big"), Some("123456789012345678901234567890"));
        assert_eq!(e.claims.json_of("e"), Some("1e2"));
        assert_eq!(e.claims.json_of("f"), Some("-0.0"));
        assert_eq!(e.claims.json_of("list"), Some("[1, 2.50]"));
        assert_eq!(e.claims.json_of("sub"), Some(r#""a\u00e9""#));
        assert_eq!(e.claims.string("sub"), Some("aé"));
        assert_eq!(
            e.claims.as_json(),
            r#"{"sub":"a\u00e9","big":123456789012345678901234567890,"e":1e2,"f":-0.0,"list":[1, 2.50]}"#
        );
        let same = Claims::from_json(r#"{ "big" : 123456789012345678901234567890 }"#).unwrap();
        assert_eq!(same.as_json(), r#"{"big":123456789012345678901234567890}"#);
    }

    #[test]
    fn a_claim_named_twice_is_refused() {
        let e = TokenEvent::from_json_line(r#"{"kind":"id_token","claims":{"sub":"alice","sub":"mallory"}}"#).unwrap_err();
        assert!(e.0.contains(r#"the claim "sub" appears twice"#), "{e}");
        assert!(Claims::from_json(r#"{"a":1,"b":2,"a":3}"#).unwrap_err().0.contains("appears twice"));
    }

    #[test]
    fn audience_accepts_string_or_array() {
        let one = Claims::new(serde_json::from_str(r#"{"aud":"x"}"#).unwrap());
        let many = Claims::new(serde_json::from_str(r#"{"aud":["x","y"]}"#).unwrap());
        assert_eq!(one.audience(), ["x"]);
        assert_eq!(many.audience(), ["x", "y"]);
    }
}
