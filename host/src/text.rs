//! Guest- and input-controlled text on its way to a human: capped and with control
//! characters escaped, so a listener's log line, an `init` error or a bad event line cannot
//! forge rows of output, move the cursor or recolour a terminal.

use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1), every bidirectional override and the
/// Unicode line and paragraph separators written as escapes (`\n`, `\u{1b}`, ...). Text
/// without them is returned as it is, without a copy.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The longest prefix of `text` of at most `max` bytes that ends at a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` capped at `max` bytes (with `…` and the full size when cut) and escaped: what a
/// guest's string may look like in a log line, a status reason or an error message.
pub fn for_humans(text: &str, max: usize) -> String {
    let cut = truncate(text, max);
    if cut.len() == text.len() {
        escape_control(text).into_owned()
    } else {
        format!("{}… ({} bytes in all)", escape_control(cut), text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bidi_overrides_are_escaped() {
        assert_eq!(escape_control("a\nb\r\x1b[31mc\u{7f}\u{202e}d"), "a\\nb\\r\\u{1b}[31mc\\u{7f}\\u{202e}d");
        assert!(matches!(escape_control("plain é ✓"), Cow::Borrowed("plain é ✓")));
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("éé", 3), "é");
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(for_humans("ab\ncd", 3), "ab\\n… (5 bytes in all)");
    }
}
