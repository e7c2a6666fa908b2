//! Contract 0.2's event parameter: what a listener declared it reads (`Projection`, from its
//! `init` answer) and the bytes an event becomes for it (`wit/listener.wit` documents the
//! layout). An event is encoded once per distinct projection per dispatch, into buffers the
//! dispatching thread reuses, so the sync path allocates nothing per event.

use crate::runtime::bindings::v0_2::lifecycle::Declaration;
use crate::event::TokenEvent;
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The most claim or property names a declaration may list.
pub const MAX_DECLARED_NAMES: usize = 256;
/// The longest claim or property name a declaration may list, in bytes.
pub const MAX_DECLARED_NAME_BYTES: usize = 256;

/// A field's length that means "absent".
const ABSENT: u32 = u32::MAX;

/// What a listener's handlers are handed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Projection {
    /// The declared claims, in declared order; `None`: the whole claims set.
    pub claims: Option<Box<[Box<str>]>>,
    pub client_metadata: bool,
}

/// A listener's checked declaration: its projection and the properties it accepts.
#[derive(Debug)]
pub(crate) struct Declared {
    pub projection: Arc<Projection>,
    /// `None`: any property.
    pub properties: Option<BTreeSet<String>>,
}

/// The distinct projections of one host's listeners: equal declarations share one, so an
/// event is encoded once for all the listeners that read the same claims.
#[derive(Default)]
pub(crate) struct Projections(Mutex<Vec<Arc<Projection>>>);

impl Projections {
    /// Check a listener's declaration and intern its projection; the error says what is
    /// wrong with it, for the listener's status.
    pub fn declare(&self, declaration: Declaration) -> Result<Declared, String> {
        let claims = match declaration.claims {
            Some(names) => Some(checked_names("claims", names)?.into_iter().map(String::into_boxed_str).collect()),
            None => None,
        };
        let properties = match declaration.properties {
            Some(names) => Some(checked_names("properties", names)?.into_iter().collect()),
            None => None,
        };
        let wanted = Projection { claims, client_metadata: declaration.client_metadata };
        let mut known = self.0.lock();
        let projection = match known.iter().find(|p| ***p == wanted) {
            Some(p) => p.clone(),
            None => {
                let p = Arc::new(wanted);
                known.push(p.clone());
                p
            }
        };
        Ok(Declared { projection, properties })
    }
}

/// A declared list of names: bounded in count and length, no empty or repeated name.
fn checked_names(what: &str, names: Vec<String>) -> Result<Vec<String>, String> {
    if names.len() > MAX_DECLARED_NAMES {
        return Err(format!("it declares {} {what}, over the limit of {MAX_DECLARED_NAMES}", names.len()));
    }
    let mut seen = BTreeSet::new();
    for name in &names {
        if name.is_empty() || name.len() > MAX_DECLARED_NAME_BYTES {
            return Err(format!(
                "it declares {what} with a name of {} bytes (a name has 1 to {MAX_DECLARED_NAME_BYTES})",
                name.len()
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(format!("it declares the {what} name {:?} twice", crate::text::truncate(name, 64)));
        }
    }
    Ok(names)
}

/// Write `event` for `projection` into `out`.
pub(crate) fn encode(event: &TokenEvent, projection: &Projection, out: &mut Vec<u8>) {
    field(out, Some(&event.context.issuer));
    field(out, Some(&event.context.client_id));
    field(out, event.local_subject.as_deref());
    field(out, projection.client_metadata.then_some(event.context.client_metadata.as_str()));
    match &projection.claims {
        None => field(out, Some(event.claims.as_json())),
        Some(names) => {
            for name in names.iter() {
                field(out, event.claims.json_of(name));
            }
        }
    }
}

fn field(out: &mut Vec<u8>, text: Option<&str>) {
    // A text of 4 GiB or more cannot be told by its length (and no guest memory holds it):
    // it is sent as absent.
    match text.and_then(|t| u32::try_from(t.len()).ok().filter(|&n| n != ABSENT).map(|n| (t, n))) {
        Some((text, len)) => {
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        None => out.extend_from_slice(&ABSENT.to_le_bytes()),
    }
}

/// The encodings of the event being dispatched, one per distinct projection, built on first
/// use. Kept per thread between dispatches, so its buffers are reused.
#[derive(Default)]
pub(crate) struct Encodings {
    bytes: Vec<u8>,
    /// Each built encoding: its projection's address (interned, so equal projections share
    /// one) and its range in `bytes`.
    built: Vec<(usize, usize, usize)>,
}

impl Encodings {
    /// Forget the previous event's encodings (the buffers stay).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.built.clear();
    }

    /// `event` encoded for `projection`.
    pub fn of(&mut self, event: &TokenEvent, projection: &Arc<Projection>) -> &[u8] {
        let key = Arc::as_ptr(projection) as usize;
        let (start, end) = match self.built.iter().find(|(p, _, _)| *p == key) {
            Some(&(_, start, end)) => (start, end),
            None => {
                let start = self.bytes.len();
                encode(event, projection, &mut self.bytes);
                self.built.push((key, start, self.bytes.len()));
                (start, self.bytes.len())
            }
        };
        &self.bytes[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Claims, EventKind};

    fn declaration(claims: Option<&[&str]>, properties: Option<&[&str]>) -> Declaration {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect();
        Declaration { claims: claims.map(names), client_metadata: false, properties: properties.map(names) }
    }

    /// Decode the fields back, as a guest would.
    fn fields(mut bytes: &[u8]) -> Vec<Option<String>> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let len = u32::from_le_bytes(bytes[..4].try_into().unwrap());
            bytes = &bytes[4..];
            if len == ABSENT {
                out.push(None);
            } else {
                out.push(Some(String::from_utf8(bytes[..len as usize].to_vec()).unwrap()));
                bytes = &bytes[len as usize..];
            }
        }
        out
    }

    fn event() -> TokenEvent {
        let claims = Claims::from_json(r#"{"sub":"alice","azp":"client-123","big":123456789012345678901234567890,"amr":["pwd","otp"]}"#).unwrap();
        TokenEvent::new(EventKind::IdToken, claims).with_issuer("https://op.example").with_local_subject("a-1")
    }

    #[test]
    fn declared_claims_are_sent_in_declared_order_as_issued_and_absent_ones_marked() {
        let p = Projections::default().declare(declaration(Some(&["amr", "email", "big"]), None)).unwrap();
        let mut out = Vec::new();
        encode(&event(), &p.projection, &mut out);
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            fields(&out),
            [some("https://op.example"), some("client-123"), some("a-1"), None, some(r#"["pwd","otp"]"#), None, some("123456789012345678901234567890")]
        );
    }

    #[test]
    fn no_declared_claims_sends_the_whole_set_and_metadata_only_when_asked() {
        let mut d = declaration(None, None);
        d.client_metadata = true;
        let p = Projections::default().declare(d).unwrap();
        let mut out = Vec::new();
        let event = event();
        encode(&event, &p.projection, &mut out);
        let f = fields(&out);
        assert_eq!(f.len(), 5);
        assert_eq!(f[3].as_deref(), Some(event.context.client_metadata.as_str()));
        assert_eq!(f[4].as_deref(), Some(event.claims.as_json()));
    }

    #[test]
    fn equal_declarations_share_one_projection_and_one_encoding() {
        let projections = Projections::default();
        let a = projections.declare(declaration(Some(&["sub"]), Some(&["x"]))).unwrap();
        let b = projections.declare(declaration(Some(&["sub"]), None)).unwrap();
        let c = projections.declare(declaration(Some(&["iat"]), None)).unwrap();
        assert!(Arc::ptr_eq(&a.projection, &b.projection));
        assert!(!Arc::ptr_eq(&a.projection, &c.projection));
        let mut encodings = Encodings::default();
        let event = event();
        let first = encodings.of(&event, &a.projection).to_vec();
        assert_eq!(encodings.of(&event, &b.projection), first);
        encodings.of(&event, &c.projection);
        assert_eq!(encodings.built.len(), 2, "one encoding per distinct projection");
        encodings.clear();
        assert!(encodings.built.is_empty() && encodings.bytes.capacity() > 0);
    }

    #[test]
    fn bad_declarations_are_refused_with_what_is_wrong() {
        let projections = Projections::default();
        let many: Vec<String> = (0..=MAX_DECLARED_NAMES).map(|i| format!("c{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let long = "n".repeat(MAX_DECLARED_NAME_BYTES + 1);
        for (d, want) in [
            (declaration(Some(&many), None), "declares 257 claims, over the limit of 256"),
            (declaration(Some(&["sub", "sub"]), None), "declares the claims name \"sub\" twice"),
            (declaration(Some(&[""]), None), "a name of 0 bytes"),
            (declaration(None, Some(&[long.as_str()])), "properties with a name of 257 bytes"),
        ] {
            let e = projections.declare(d).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}
