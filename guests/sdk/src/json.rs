//! The little JSON a listener needs, without a JSON library in the guest.
//!
//! [`Claims::get`](crate::Claims::get) returns a claim's JSON text as issued (`"alice"`,
//! `1700000000`, `["pwd","otp"]`). The typed accessors on [`Claims`](crate::Claims)
//! (`get_str`, `get_i64`, `get_bool`, `get_strings`, `subject`, `acr`, `amr`...) read that
//! text with the functions here; they are public for JSON text from elsewhere. [`member`]
//! finds one member of a JSON object (such as
//! [`EventContext::client_metadata`](crate::EventContext::client_metadata)); [`quote`] goes
//! the other way, for building JSON such as the content of a SET.
//!
//! Each parser takes the text of exactly one JSON value, with optional JSON whitespace
//! around it, and returns `None` when the value has another type or the text is not valid
//! JSON of that type.

use std::borrow::Cow;

/// The value of a JSON string, unescaped: `"a\"b"` gives `a"b`. Every JSON escape is
/// decoded (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u` with four hex digits, surrogate pairs
/// included). `None` for any other JSON type, a lone surrogate, a raw control character or
/// malformed text.
pub fn parse_str(json: &str) -> Option<String> {
    let mut p = Parser::new(json);
    let s = p.string()?;
    p.end()?;
    Some(s)
}

/// [`parse_str`] of JSON text that is no longer needed: a string without escapes (the
/// usual claim) reuses its buffer instead of being copied.
pub fn into_str(json: String) -> Option<String> {
    let plain = match json.as_bytes() {
        [b'"', inner @ .., b'"'] => !inner.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20),
        _ => false,
    };
    if !plain {
        return parse_str(&json);
    }
    let mut s = json;
    s.pop();
    s.remove(0);
    Some(s)
}

/// [`parse_str`] without a copy when it can: a string without escapes (the usual claim) is
/// borrowed from `json`, one with escapes is unescaped into a new `String`.
pub fn parse_str_cow(json: &str) -> Option<Cow<'_, str>> {
    let text = trim(json);
    if let [b'"', inner @ .., b'"'] = text.as_bytes() {
        if !inner.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
            return text.get(1..text.len() - 1).map(Cow::Borrowed);
        }
    }
    parse_str(json).map(Cow::Owned)
}

/// `bytes` as text when they are UTF-8. (An ASCII check eight bytes at a time first:
/// claims and context are mostly ASCII, and `str::from_utf8` costs several times more.)
pub(crate) fn utf8(bytes: &[u8]) -> Option<&str> {
    let (words, tail) = bytes.as_chunks::<8>();
    let mut any = words.iter().fold(0, |acc, w| acc | u64::from_le_bytes(*w));
    any |= tail.iter().fold(0, |acc, &b| acc | u64::from(b));
    if any & HIGH_BITS == 0 {
        // SAFETY: ASCII is UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

/// Each byte of a word: its lowest bit.
const LOW_BITS: u64 = 0x0101_0101_0101_0101;
/// Each byte of a word: its highest bit.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that equals `byte`, plus maybe some above the first
/// one found (borrows): the lowest set bit is always a real match.
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (LOW_BITS * u64::from(byte));
    x.wrapping_sub(LOW_BITS) & !x & HIGH_BITS
}

/// The value of a JSON integer within the range of `i64`: `-12` gives `-12`. `None` for a
/// number with a fraction or an exponent (`1.0`, `1e3`), one out of range, any other JSON
/// type or malformed text (`+1`, `01`).
pub fn parse_i64(json: &str) -> Option<i64> {
    let text = trim(json);
    let (negative, digits) = match text.as_bytes() {
        [b'-', digits @ ..] => (true, digits),
        digits => (false, digits),
    };
    match digits {
        [b'0'] => return Some(0),
        [b'1'..=b'9', ..] if digits.len() <= 19 => {}
        _ => return None, // empty, a leading zero, not a digit, over 19 digits
    }
    // 19 digits fit a u64 (not an i64, whose checked arithmetic costs a 128-bit multiply
    // in Wasm); the range is checked once at the end.
    let mut magnitude: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude * 10 + u64::from(d - b'0');
    }
    if negative {
        // -2^63 is the one magnitude without a positive i64.
        (magnitude <= i64::MIN.unsigned_abs()).then(|| 0i64.wrapping_sub_unsigned(magnitude))
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// The value of a JSON boolean. `None` for any other JSON type.
pub fn parse_bool(json: &str) -> Option<bool> {
    match trim(json) {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The items of a JSON array of strings, unescaped as by [`parse_str`]: `["pwd","otp"]`
/// gives `["pwd", "otp"]`, `[]` an empty list. `None` when the value is not an array or an
/// item is not a string (a single string is not a list of one).
pub fn parse_strings(json: &str) -> Option<Vec<String>> {
    let mut p = Parser::new(json);
    p.ws();
    p.eat(b'[')?;
    let mut items = Vec::new();
    p.ws();
    if p.eat(b']').is_none() {
        loop {
            items.push(p.string()?);
            p.ws();
            match p.next()? {
                b',' => p.ws(),
                b']' => break,
                _ => return None,
            }
        }
    }
    p.end()?;
    Some(items)
}

/// `s` as a JSON string, quotes included: `"` and `\` are escaped with a backslash and the
/// control characters U+0000 to U+001F as `\u00XX`; everything else is copied.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The JSON text of the member `name` of the JSON object `object`, as it is written there
/// (whitespace around it left out): `member(r#"{"a":[1, 2],"b":"x"}"#, "a")` gives
/// `[1, 2]`. Only top-level members are looked at; a member name written with escapes
/// (`"\u0061"`) is compared unescaped; the first member of that name wins. `None` when there
/// is no such member or the text is not an object (a malformed object is read up to the
/// first fault).
pub fn member<'a>(object: &'a str, name: &str) -> Option<&'a str> {
    let value = Members::new(object.as_bytes()).find(|(n, _)| name_is(n, name))?.1;
    // Both ends of a value are next to ASCII bytes of the object, so on character boundaries.
    utf8(value)
}

/// The top-level members of a JSON object's text, in order, as byte slices of that text:
/// the name with its quotes (still escaped) and the value's text. It reads bytes, so it runs
/// over text not yet checked to be UTF-8: every byte it stops at is ASCII (a quote, a
/// backslash, a bracket, a comma...), which in UTF-8 is never part of another character.
///
/// It is a scanner, not a validator: on valid JSON it finds exactly the members (strings
/// with escapes and nested arrays/objects skipped without recursion); on malformed text it
/// stops at the first fault it notices and never panics (it does not notice them all: the
/// kinds of brackets are not matched, `[1}` passes for a value).
pub(crate) struct Members<'a> {
    text: &'a [u8],
    /// Where the next member (or the comma before it) is looked for; `None` when done.
    at: Option<usize>,
    first: bool,
}

// The scanning functions take a position and return the next one: the state lives in Wasm
// locals, not in the iterator in linear memory (a third of the instructions per byte).

/// The position of the first byte at or after `at` that is not JSON whitespace.
fn skip_ws(text: &[u8], at: usize) -> usize {
    let rest = text.get(at..).unwrap_or_default();
    at + rest.iter().position(|&b| !is_ws(b)).unwrap_or(rest.len())
}

/// The position after the closing quote of the string whose content starts at `at`.
fn skip_string(text: &[u8], mut at: usize) -> Option<usize> {
    loop {
        at = quote_or_backslash(text, at)?;
        match text.get(at)? {
            b'"' => return Some(at + 1),
            _ => at += 2, // a backslash: `\"` and `\\` must not end or start anything
        }
    }
}

/// The position of the first `"` or `\` at or after `at`, eight bytes at a time.
fn quote_or_backslash(text: &[u8], mut at: usize) -> Option<usize> {
    let rest = text.get(at..)?;
    let (words, tail) = rest.as_chunks::<8>();
    for word in words {
        let word = u64::from_le_bytes(*word);
        let found = bytes_equal(word, b'"') | bytes_equal(word, b'\\');
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    tail.iter().position(|&b| b == b'"' || b == b'\\').map(|i| at + i)
}

/// The position after the value at `at`: a string, a nested array or object (skipped by
/// counting brackets outside strings), or a number / `true` / `false` / `null` (up to the
/// next delimiter).
fn skip_value(text: &[u8], mut at: usize) -> Option<usize> {
    match *text.get(at)? {
        b'"' => skip_string(text, at + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match *text.get(at)? {
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    b'"' => {
                        at = skip_string(text, at + 1)?;
                        continue;
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => {
            let rest = text.get(at..)?;
            let len = rest.iter().position(|&b| matches!(b, b',' | b'}' | b']') || is_ws(b)).unwrap_or(rest.len());
            (len > 0).then_some(at + len)
        }
    }
}

impl<'a> Members<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Self {
        let at = skip_ws(text, 0);
        let open = text.get(at) == Some(&b'{');
        Members { text, at: open.then_some(at + 1), first: true }
    }

    /// The member at `at`, and the position after it.
    fn member(&self, at: usize) -> Option<((&'a [u8], &'a [u8]), usize)> {
        let text = self.text;
        let mut at = skip_ws(text, at);
        if self.first {
            if text.get(at) == Some(&b'}') {
                return None; // `{}`
            }
        } else {
            match text.get(at)? {
                b',' => at = skip_ws(text, at + 1),
                _ => return None, // `}`, or a fault
            }
        }
        let name_start = at;
        if text.get(at) != Some(&b'"') {
            return None;
        }
        at = skip_string(text, at + 1)?;
        let name = text.get(name_start..at)?;
        at = skip_ws(text, at);
        if text.get(at) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(text, at + 1);
        at = skip_value(text, value_start)?;
        Some(((name, text.get(value_start..at)?), at))
    }
}

impl<'a> Iterator for Members<'a> {
    /// (the name with its quotes, the value)
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (member, at) = self.member(self.at?)?;
        // (A fault leaves `at` as it was: the next call finds the same fault.)
        self.at = Some(at);
        self.first = false;
        Some(member)
    }
}

/// A member name as [`Members`] gives it (quotes included), unescaped: borrowed when it
/// has no backslash. `None` when it is not valid UTF-8 or not a valid JSON string.
pub(crate) fn member_name(quoted: &[u8]) -> Option<Cow<'_, str>> {
    parse_str_cow(utf8(quoted)?)
}

/// Whether a member name as [`Members`] gives it (quotes included) is `name` once unescaped.
pub(crate) fn name_is(quoted: &[u8], name: &str) -> bool {
    match quoted {
        [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => inner == name.as_bytes(),
        _ => member_name(quoted).is_some_and(|n| n == name),
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// `json` without JSON whitespace around it. (By bytes: JSON whitespace is ASCII, and
/// `str::trim_matches` would decode characters.)
fn trim(json: &str) -> &str {
    let bytes = json.as_bytes();
    let start = bytes.iter().position(|&b| !is_ws(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| !is_ws(b)).map_or(start, |last| last + 1);
    json.get(start..end).unwrap_or_default()
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser { text, at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.peek()? == want).then(|| self.at += 1)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Only whitespace is left.
    fn end(&mut self) -> Option<()> {
        self.ws();
        (self.at == self.text.len()).then_some(())
    }

    /// A JSON string starting after optional whitespace, unescaped.
    fn string(&mut self) -> Option<String> {
        self.ws();
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            // A run of plain characters is copied in one go. It ends at an ASCII byte, so
            // both ends are on character boundaries (`get`, not indexing: no panic path,
            // whose message formatting would add kilobytes to every guest).
            let start = self.at;
            while let Some(b) = self.peek() {
                match b {
                    b'"' | b'\\' => break,
                    0..=0x1f => return None, // JSON has no raw control characters in strings
                    _ => self.at += 1,
                }
            }
            out.push_str(self.text.get(start..self.at)?);
            match self.next()? {
                b'"' => return Some(out),
                _ => out.push(self.escape()?), // the backslash
            }
        }
    }

    /// The character of the escape after a backslash.
    fn escape(&mut self) -> Option<char> {
        Some(match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by an escaped low one.
                        self.eat(b'\\')?;
                        self.eat(b'u')?;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                    }
                    0xDC00..=0xDFFF => return None, // a low surrogate alone
                    _ => char::from_u32(unit)?,
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            v = v << 4 | (self.next()? as char).to_digit(16)?;
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_plain_and_escaped() {
        assert_eq!(parse_str(r#""urn:c2id:acr:mfa""#).as_deref(), Some("urn:c2id:acr:mfa"));
        assert_eq!(parse_str(r#""""#).as_deref(), Some(""));
        assert_eq!(parse_str(" \t\r\n\"x\" \n").as_deref(), Some("x"));
        assert_eq!(
            parse_str(r#""q\" b\\ s\/ \b\f\n\r\t end""#).as_deref(),
            Some("q\" b\\ s/ \u{8}\u{c}\n\r\t end")
        );
        assert_eq!(parse_str(r#""caf\u00e9 \u00E9 \u20ac \u0000""#).as_deref(), Some("café é € \0"));
        // Non-ASCII text copied as is, next to escapes.
        assert_eq!(parse_str(r#""été\n€😀""#).as_deref(), Some("été\n€😀"));
    }

    #[test]
    fn into_str_agrees_with_parse_str() {
        for text in [
            r#""urn:c2id:acr:mfa""#, r#""""#, r#""é😀""#, r#"" x ""#, r#" "x""#, r#""a\"b""#, r#""\u00e9""#,
            "\"a\nb\"", "\"", "\"\"\"", "1", "[\"a\"]", "\"a\" ", "", "\"\\\"",
        ] {
            assert_eq!(into_str(text.to_string()), parse_str(text), "{text:?}");
        }
    }

    #[test]
    fn surrogate_pairs_and_lone_surrogates() {
        assert_eq!(parse_str(r#""\ud83d\ude00""#).as_deref(), Some("😀"));
        assert_eq!(parse_str(r#""a\uD834\uDD1Eb""#).as_deref(), Some("a𝄞b"));
        assert_eq!(parse_str(r#""\udbff\udfff""#).as_deref(), Some("\u{10ffff}"));
        for lone in [r#""\ud83d""#, r#""\ud83dx""#, r#""\ud83d\n""#, r#""\ud83d\u0041""#, r#""\ude00""#, r#""\ud83d\ud83d""#] {
            assert_eq!(parse_str(lone), None, "{lone}");
        }
    }

    #[test]
    fn strings_malformed_or_other_types() {
        for bad in [
            "", "\"", "\"abc", "abc", "\"a\"b", "\"a\" \"b\"", "\"\\\"", "\"\\x\"", "\"\\u12\"",
            "\"\\u12g4\"", "\"\\u+123\"", "\"a\nb\"", "\"\t\"", "\"\u{1f}\"", "1", "true", "null",
            "[\"a\"]", "{\"a\":1}", "'a'",
        ] {
            assert_eq!(parse_str(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(parse_i64("1764331200"), Some(1_764_331_200));
        assert_eq!(parse_i64("0"), Some(0));
        assert_eq!(parse_i64("-0"), Some(0));
        assert_eq!(parse_i64(" -42\n"), Some(-42));
        assert_eq!(parse_i64("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64("-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "9223372036854775808", "-9223372036854775809", "18446744073709551615", "1.0", "1e3",
            "1E3", "-", "", "+1", "01", "-01", "00", "1 2", "\"1\"", "true", "[1]", "0x10", "１",
            "99999999999999999999", "-99999999999999999999", "10000000000000000000", "1-", "--1", "1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("true"), Some(true));
        assert_eq!(parse_bool(" false "), Some(false));
        for bad in ["", "True", "1", "\"true\"", "null", "truex"] {
            assert_eq!(parse_bool(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn string_arrays() {
        assert_eq!(parse_strings(r#"["pwd","otp"]"#), Some(vec!["pwd".into(), "otp".into()]));
        assert_eq!(parse_strings("[]"), Some(vec![]));
        assert_eq!(parse_strings(" [ ] "), Some(vec![]));
        assert_eq!(parse_strings(" [ \"a\\\"\" ,\n\"\\u00e9\" ] "), Some(vec!["a\"".into(), "é".into()]));
        for bad in [
            "", "[", "]", "[\"a\"", "[\"a\",]", "[,\"a\"]", "[\"a\" \"b\"]", "[\"a\"]]", "[1]",
            "[\"a\",1]", "[null]", "[[\"a\"]]", "\"a\"", "{}", "[\"\\ud800\"]",
        ] {
            assert_eq!(parse_strings(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_str_cow_borrows_plain_strings_only() {
        assert!(matches!(parse_str_cow(r#""alice""#), Some(Cow::Borrowed("alice"))));
        assert!(matches!(parse_str_cow(" \"alice\"\n"), Some(Cow::Borrowed("alice"))));
        assert!(matches!(parse_str_cow(r#""""#), Some(Cow::Borrowed(""))));
        assert!(matches!(parse_str_cow(r#""a\"b""#), Some(Cow::Owned(s)) if s == "a\"b"));
        for text in [
            r#""urn:c2id:acr:mfa""#, r#""""#, r#""é😀""#, r#"" x ""#, r#" "x""#, r#""a\"b""#, r#""\u00e9""#,
            "\"a\nb\"", "\"", "\"\"\"", "1", "[\"a\"]", "\"a\" ", "", "\"\\\"", "\"a\"b\"",
        ] {
            assert_eq!(parse_str_cow(text).map(Cow::into_owned), parse_str(text), "{text:?}");
        }
    }

    fn members(text: &str) -> Vec<(String, String)> {
        Members::new(text.as_bytes())
            .map(|(n, v)| (String::from_utf8(n.to_vec()).unwrap(), String::from_utf8(v.to_vec()).unwrap()))
            .collect()
    }

    #[test]
    fn members_of_an_object_skip_nested_values_and_strings() {
        let object = r#" { "sub" : "alice" , "amr":["pwd","otp"],"n":{"a":{"b":[1,{"c":"}]"}]}},
            "s":"q\"}, \"x\":1\\","big":123456789012345678901234567890,"e":1e2,"t":true,"z":null,"x":-1.5E+3 } "#;
        assert_eq!(
            members(object),
            [
                ("\"sub\"", "\"alice\""),
                ("\"amr\"", r#"["pwd","otp"]"#),
                ("\"n\"", r#"{"a":{"b":[1,{"c":"}]"}]}}"#),
                ("\"s\"", r#""q\"}, \"x\":1\\""#),
                ("\"big\"", "123456789012345678901234567890"),
                ("\"e\"", "1e2"),
                ("\"t\"", "true"),
                ("\"z\"", "null"),
                ("\"x\"", "-1.5E+3"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        assert_eq!(members("{}"), []);
        assert_eq!(members(" {\n} "), []);
    }

    #[test]
    fn members_of_malformed_text_stop_at_the_fault() {
        for (text, found) in [
            ("", 0), ("[]", 0), ("\"a\"", 0), ("{", 0), ("{\"a\"", 0), ("{\"a\":", 0), ("{\"a\":}", 0),
            ("{\"a\" 1}", 0), ("{a:1}", 0), ("{\"a\":1", 1), ("{\"a\":1,", 1), ("{\"a\":1 \"b\":2}", 1),
            ("{\"a\":\"x", 0), ("{\"a\":[1,2", 0), ("{\"a\":1,}", 1), ("{\"a\\", 0), ("{\"a\":1}{\"b\":2}", 1),
        ] {
            assert_eq!(members(text).len(), found, "{text:?}");
        }
        // Deep nesting is counted, not recursed into.
        let deep = format!("{{\"d\":{}{},\"after\":1}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(member(&deep, "after"), Some("1"));
    }

    #[test]
    fn strings_are_skipped_a_word_at_a_time_whatever_the_offsets() {
        for before in 0..20 {
            for after in 0..20 {
                for escape in [r#"\""#, r"\\", r"\u0022", ""] {
                    let content = format!("{}{escape}{}", "a".repeat(before), "é".repeat(after));
                    let text = format!(r#"x"{content}"y"#);
                    assert_eq!(skip_string(text.as_bytes(), 2), Some(text.len() - 1), "{text}");
                    let object = format!(r#"{{"{content}":"{content}","k":1}}"#);
                    assert_eq!(member(&object, "k"), Some("1"), "{object}");
                }
                let unterminated = format!(r#""{}\"#, "a".repeat(before));
                assert_eq!(skip_string(unterminated.as_bytes(), 1), None);
            }
        }
    }

    #[test]
    fn utf8_checks_every_byte() {
        assert_eq!(utf8(b""), Some(""));
        for len in 0..24 {
            let ascii = "a".repeat(len);
            assert_eq!(utf8(ascii.as_bytes()), Some(ascii.as_str()));
            for at in 0..len {
                let mut bad = ascii.clone().into_bytes();
                bad[at] = 0xff;
                assert_eq!(utf8(&bad), None, "{len} {at}");
                let good = format!("{}é{}", &ascii[..at], &ascii[at..]);
                assert_eq!(utf8(good.as_bytes()), Some(good.as_str()));
            }
        }
    }

    #[test]
    fn member_finds_top_level_names_escaped_or_not() {
        let object = r#"{"a":{"b":1},"b":2,"caf\u00e9":"x","q\"n":3,"a":"second","\ud83d\ude00":4}"#;
        assert_eq!(member(object, "a"), Some(r#"{"b":1}"#)); // the first one
        assert_eq!(member(object, "b"), Some("2")); // not the nested one
        assert_eq!(member(object, "café"), Some("\"x\""));
        assert_eq!(member(object, "q\"n"), Some("3"));
        assert_eq!(member(object, "😀"), Some("4"));
        assert_eq!(member(object, "caf\\u00e9"), None); // compared unescaped
        assert_eq!(member(object, "c"), None);
        assert_eq!(member("[1]", "a"), None);
        assert!(name_is(br#""sub""#, "sub"));
        assert!(!name_is(br#""sub""#, "su"));
        assert!(name_is(br#""s\u0075b""#, "sub"));
        assert!(!name_is(br#""s\u00""#, "sub"));
        assert!(!name_is(b"\"\xff\"", "\u{fffd}"));
    }

    #[test]
    fn quote_escapes_what_json_requires() {
        assert_eq!(quote("alice"), r#""alice""#);
        assert_eq!(quote(""), r#""""#);
        assert_eq!(quote("a\"b\\c/é"), r#""a\"b\\c/é""#);
        assert_eq!(quote("\n\t\u{0}\u{1f}\u{7f}"), "\"\\u000a\\u0009\\u0000\\u001f\u{7f}\"");
    }

    #[test]
    fn quote_then_parse_is_identity() {
        for s in ["", "plain", "q\"b\\s/", "\u{0}\u{8}\u{c}\n\r\t\u{1f}", "été€😀\u{10ffff}"] {
            assert_eq!(parse_str(&quote(s)).as_deref(), Some(s));
            assert_eq!(parse_strings(&format!("[{},{}]", quote(s), quote(s))), Some(vec![s.to_string(), s.to_string()]));
        }
    }
}
