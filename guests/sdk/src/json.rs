//! The little JSON a listener needs, without a JSON library in the guest.
//!
//! [`Claims::get`](crate::Claims::get) returns a claim's JSON text (`"alice"`, `1700000000`,
//! `["pwd","otp"]`). The typed accessors on [`Claims`](crate::Claims) (`get_str`, `get_i64`,
//! `get_bool`, `get_strings`, `acr`, `amr`, `auth_time`) read that text with the functions
//! here; they are public for JSON text from elsewhere (`client_metadata`, `to_json` are
//! whole objects, which these functions do not take apart). [`quote`] goes the other way,
//! for building JSON such as the content of a SET.
//!
//! Each parser takes the text of exactly one JSON value, with optional JSON whitespace
//! around it, and returns `None` when the value has another type or the text is not valid
//! JSON of that type.

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

/// The value of a JSON integer within the range of `i64`: `-12` gives `-12`. `None` for a
/// number with a fraction or an exponent (`1.0`, `1e3`), one out of range, any other JSON
/// type or malformed text (`+1`, `01`).
pub fn parse_i64(json: &str) -> Option<i64> {
    let text = trim(json);
    let digits = text.strip_prefix('-').unwrap_or(text);
    let well_formed = match digits.as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    // `parse` checks the range; the grammar check above keeps out what JSON does not allow.
    if well_formed { text.parse().ok() } else { None }
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

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn trim(json: &str) -> &str {
    json.trim_matches(is_ws)
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
