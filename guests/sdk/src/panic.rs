//! The panic hook: a Rust panic in a listener reaches the host's log before the trap.
//!
//! With `panic = "abort"` (the guests' profile) a panic ends in a Wasm `unreachable`, and
//! the host sees only that. So the export glue installs this hook before the first call into
//! the listener. It logs one line at `error`, `panicked at FILE:LINE:COL: MESSAGE`, cut to
//! [`MAX_LINE_BYTES`], and then lets the panic go on (abort, a trap). The host attaches the
//! last error line of a call to its trap record.

use std::panic::{Location, PanicHookInfo};
use std::sync::Once;

/// The panic line is cut to this many bytes (on a character boundary).
pub const MAX_LINE_BYTES: usize = 1024;

/// Installs the hook, once per instance.
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(hook)));
}

fn hook(info: &PanicHookInfo<'_>) {
    // Built on the stack (the panic may come from a full heap) and without `core::fmt`
    // (which would add kilobytes to every guest).
    let mut line = Line::new();
    render(&mut line, info.location(), info.payload_as_str());
    crate::log::error(line.as_str());
}

/// `panicked at FILE:LINE:COL: MESSAGE`, like the first line of Rust's own panic output.
fn render(line: &mut Line, location: Option<&Location<'_>>, message: Option<&str>) {
    line.push("panicked at ");
    match location {
        Some(at) => {
            line.push(at.file());
            line.push(":");
            line.push_u32(at.line());
            line.push(":");
            line.push_u32(at.column());
        }
        None => line.push("<unknown location>"),
    }
    line.push(": ");
    // A payload that is not a string (`std::panic::panic_any(42)`) is shown as std does.
    line.push(message.unwrap_or("Box<dyn Any>"));
}

/// A fixed buffer of [`MAX_LINE_BYTES`] that keeps the longest prefix of what is pushed
/// that fits, ending on a character boundary.
struct Line {
    buf: [u8; MAX_LINE_BYTES],
    len: usize,
}

impl Line {
    fn new() -> Self {
        Line { buf: [0; MAX_LINE_BYTES], len: 0 }
    }

    #[inline(never)]
    fn push(&mut self, s: &str) {
        let mut take = s.len().min(MAX_LINE_BYTES - self.len);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        if let (Some(to), Some(from)) = (self.buf.get_mut(self.len..self.len + take), s.as_bytes().get(..take)) {
            to.copy_from_slice(from);
            self.len += take;
        }
    }

    fn push_u32(&mut self, n: u32) {
        if n >= 10 {
            self.push_u32(n / 10);
        }
        if let Some(b) = self.buf.get_mut(self.len) {
            *b = b'0' + (n % 10) as u8;
            self.len += 1;
        }
    }

    fn as_str(&self) -> &str {
        let bytes = self.buf.get(..self.len).unwrap_or_default();
        // SAFETY: `push` copies only whole characters of a `str` (a prefix ending on a
        // character boundary) and `push_u32` only ASCII digits, so the bytes are UTF-8.
        // (Not `from_utf8`: its validation code would add to every guest.)
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(location: Option<&Location<'_>>, message: &str) -> String {
        let mut l = Line::new();
        render(&mut l, location, Some(message));
        l.as_str().to_owned()
    }

    #[test]
    fn the_line_names_location_and_message() {
        let here = Location::caller();
        assert_eq!(
            line(Some(here), "cannot handle sub alice"),
            format!("panicked at {}:{}:{}: cannot handle sub alice", here.file(), here.line(), here.column())
        );
        let mut l = Line::new();
        render(&mut l, None, None);
        assert_eq!(l.as_str(), "panicked at <unknown location>: Box<dyn Any>");
    }

    #[test]
    fn numbers_in_decimal() {
        for n in [0, 7, 10, 139, 4_000_000_000, u32::MAX] {
            let mut l = Line::new();
            l.push_u32(n);
            assert_eq!(l.as_str(), n.to_string());
        }
    }

    #[test]
    fn the_line_is_cut_on_a_character_boundary() {
        let mut l = Line::new();
        l.push("a.rs:1:1: "); // 10 bytes, leaving 1014
        l.push(&"x".repeat(5000));
        assert_eq!((l.len, l.as_str().len()), (MAX_LINE_BYTES, MAX_LINE_BYTES));
        l.push("more");
        assert_eq!(l.as_str().len(), MAX_LINE_BYTES, "a full line takes nothing more");
        // After the 12-byte prefix 1012 bytes are left: an even number.
        let cut = |s: &str| {
            let mut l = Line::new();
            l.push("panicked at ");
            l.push(s);
            l.as_str().to_owned()
        };
        let e = |n| cut(&"é".repeat(n)).len(); // 2 bytes each
        assert_eq!((e(505), e(506), e(507), e(2000)), (1022, 1024, 1024, 1024));
        let f = |n| cut(&"😀".repeat(n)).len(); // 4 bytes each: 253 fit, 1012 bytes
        assert_eq!((f(252), f(253), f(254), f(1000)), (1020, 1024, 1024, 1024));
        let mixed = cut(&format!("{}😀", "x".repeat(1010)));
        assert_eq!(mixed.len(), 1022, "the emoji does not fit whole: it is left out");
        assert!(mixed.ends_with('x'));
        // What is kept is a prefix of what was pushed.
        let s = format!("{}é😀x", "y".repeat(1009));
        assert!(s.starts_with(&cut(&s)["panicked at ".len()..]));
    }

    #[test]
    fn a_real_panic_is_rendered_with_its_location_and_message() {
        // The installed hook logs through the host import, which exists only in Wasm; here
        // `render` runs on the PanicHookInfo of a real panic.
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let out = seen.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let mut l = Line::new();
            render(&mut l, info.location(), info.payload_as_str());
            *out.lock().unwrap() = l.as_str().to_owned();
        }));
        let sub = "alice";
        let line_no = line!() + 1;
        let formatted = std::panic::catch_unwind(|| panic!("cannot handle sub {sub}"));
        let formatted_seen = seen.lock().unwrap().clone();
        let literal = std::panic::catch_unwind(|| panic!("literal"));
        let literal_seen = seen.lock().unwrap().clone();
        let other = std::panic::catch_unwind(|| std::panic::panic_any(42));
        let other_seen = seen.lock().unwrap().clone();
        std::panic::set_hook(previous);
        assert!(formatted.is_err() && literal.is_err() && other.is_err());
        let want = format!("src/panic.rs:{line_no}:53: cannot handle sub alice");
        assert!(formatted_seen.starts_with("panicked at ") && formatted_seen.ends_with(&want), "{formatted_seen}");
        assert!(literal_seen.ends_with(": literal"), "{literal_seen}");
        assert!(other_seen.ends_with(": Box<dyn Any>"), "{other_seen}");
    }
}
