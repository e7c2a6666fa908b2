//! The signing key: loaded once from a JSON Web Key set holding private keys, or from PEM
//! (PKCS#8, PKCS#1 RSA, SEC1 EC), parsed once into an aws-lc-rs key pair, then used for every
//! signature without re-parsing and without any lock (aws-lc-rs key pairs are `Sync`).
//!
//! Supported: RS256 (the default for RSA keys, as for Connect2id's JWT access tokens), PS256,
//! ES256 (P-256) and EdDSA (Ed25519). RSA keys must have at least 2048 bits.
//!
//! # Key material is wiped, not just freed
//!
//! Only the selected key outlives `load`, as the aws-lc key pair. Every buffer the host
//! allocates along the way that holds secret bytes or text is wiped (`zeroize`) before it is
//! freed, on the error paths too, so no copy is left in freed memory (core dumps, swap):
//!
//! - the file's bytes: one `Zeroizing<Vec<u8>>`, allocated once at the file's size (a `Vec`
//!   that grows leaves its old copy behind unwiped; for a pipe it grows by hand, wiping the
//!   old buffer). The text is a `&str` borrowed from it, never a copy;
//! - a JWK set: parsed into `Json` (below), whose every string (all keys of the set, not
//!   only the selected one, member names included) is a `Zeroizing<String>`, not into
//!   `serde_json::Value`, whose strings would be freed unwiped;
//! - the decoded members (`d`, `p`, `q`, `dp`, `dq`, `qi`, the EC/OKP `d`): `Zeroizing<Vec<u8>>`,
//!   decoded in place (`decode_slice`) with no intermediate buffer;
//! - PEM: only the private key block is decoded, by pem-rfc7468 straight into a
//!   `Zeroizing<Vec<u8>>` DER buffer, with no intermediate copy of its base64 text.
//!
//! aws-lc copies what it keeps into its own memory (BIGNUMs, `EVP_PKEY`). It allocates with
//! `OPENSSL_malloc`, and its `OPENSSL_free` (aws-lc `crypto/mem.c`) calls `OPENSSL_cleanse` on
//! the whole block before freeing it, unless an application installs its own allocator hooks
//! (this host does not). Its temporaries and the key pair's memory when it is dropped are
//! therefore wiped as well.
//!
//! Not covered: a string written with JSON escapes (`\u0041`) is unescaped by serde_json in
//! a scratch buffer it frees unwiped (no JWK writer escapes base64url); a few bytes of stack
//! in the base64 decoders; text a caller passes to `from_text`, which the caller owns; and
//! the live key pair itself, in memory (and so in a core dump or swap) while the host runs.
//! `host/tests/key_wiping.rs` checks the host's part: an allocator scans every block Rust
//! frees during a load for the keys' secrets (aws-lc's own `malloc`s are outside its view).

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Map, Value};
use std::fmt;
use std::io::{self, Read as _};
use std::path::Path;
use zeroize::Zeroizing;

/// A JWS algorithm the host signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    PS256,
    ES256,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 4] = [Alg::RS256, Alg::PS256, Alg::ES256, Alg::EdDSA];

    /// The JOSE name (`alg` header value).
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::PS256 => "PS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// Parse a JOSE name; `Ed25519` (RFC 9864) is read as EdDSA.
    pub fn parse(s: &str) -> Option<Alg> {
        Some(match s {
            "RS256" => Alg::RS256,
            "PS256" => Alg::PS256,
            "ES256" => Alg::ES256,
            "EdDSA" | "Ed25519" => Alg::EdDSA,
            _ => return None,
        })
    }

    fn family(self) -> &'static str {
        match self {
            Alg::RS256 | Alg::PS256 => "RSA",
            Alg::ES256 => "EC",
            Alg::EdDSA => "OKP",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Alg {
    type Err = String;
    fn from_str(s: &str) -> Result<Alg, String> {
        Alg::parse(s).ok_or_else(|| format!("unsupported alg {s:?} (RS256, PS256, ES256, EdDSA)"))
    }
}

/// Why a key file could not be used. The message names the file, the key and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing key file {file}: {}{message}", key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
pub struct KeyError {
    /// The file (or source name).
    pub file: String,
    /// Which key in it: `key 1 (kid "set-2026")`, `PEM block 0 (PRIVATE KEY)`.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed private signing key. Cheap to share (`Arc`); signing takes `&self`.
pub struct SigningKey {
    kid: String,
    alg: Alg,
    pair: Pair,
    public_jwk: Map<String, Value>,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    // Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Load from a file holding a JWK set (or one JWK) with private keys, or PEM. `kid`
    /// picks the key in a JWK set (default: the first signing key) and names a PEM key
    /// (default: its RFC 7638 thumbprint). `alg` chooses PS256 for an RSA PEM key and must
    /// agree with a JWK's own `alg`.
    pub fn load(path: &Path, kid: Option<&str>, alg: Option<Alg>) -> Result<SigningKey, KeyError> {
        let file = path.display().to_string();
        let bytes = read_secret(path).map_err(|e| KeyError {
            file: file.clone(),
            key: None,
            message: format!("cannot read: {e}"),
        })?;
        // Borrowed, not copied: the only copy of the text is `bytes`, wiped when it drops.
        let text = std::str::from_utf8(&bytes).map_err(|_| KeyError {
            file: file.clone(),
            key: None,
            message: "not text: expected a JWK set (JSON) or PEM (DER files are not supported)".into(),
        })?;
        SigningKey::from_text(text, &file, kid, alg)
    }

    /// Like `load`, from the file's text; `file` names it in errors.
    pub fn from_text(text: &str, file: &str, kid: Option<&str>, alg: Option<Alg>) -> Result<SigningKey, KeyError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            from_jwk_set(trimmed, file, kid, alg)
        } else if trimmed.starts_with("-----BEGIN") {
            from_pem(trimmed, file, kid, alg)
        } else {
            Err(KeyError {
                file: file.into(),
                key: None,
                message: "neither a JWK set (JSON object) nor PEM (-----BEGIN ...)".into(),
            })
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The public JWK (`kty`, `kid`, `use`, `alg` and the public members only).
    pub fn public_jwk(&self) -> Value {
        Value::Object(self.public_jwk.clone())
    }

    /// `{"keys": [public JWK]}`: what receivers need to verify this host's SETs.
    pub fn public_jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk()] })
    }

    /// Sign `message` (a JWS signing input) with the parsed key: the JWS signature bytes.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Rsa(pair) => {
                let padding = if self.alg == Alg::PS256 { &RSA_PSS_SHA256 } else { &RSA_PKCS1_SHA256 };
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &self.rng, message, &mut sig)
                    .expect("RSA signing with a validated key does not fail");
                sig
            }
            Pair::Ec(pair) => pair
                .sign(&self.rng, message)
                .expect("ECDSA signing with a validated key does not fail")
                .as_ref()
                .to_vec(),
            Pair::Ed(pair) => pair.sign(message).as_ref().to_vec(),
        }
    }

    fn new(pair: Pair, alg: Alg, kid: Option<String>) -> SigningKey {
        let mut public = Map::new();
        let (members, thumb_input): (Vec<(&str, String)>, String) = match &pair {
            Pair::Rsa(p) => {
                let pk = p.public_key();
                let n = B64.encode(pk.modulus().big_endian_without_leading_zero());
                let e = B64.encode(pk.exponent().big_endian_without_leading_zero());
                let t = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
                (vec![("kty", "RSA".into()), ("n", n), ("e", e)], t)
            }
            Pair::Ec(p) => {
                let point = p.public_key().as_ref();
                let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
                let t = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                (vec![("kty", "EC".into()), ("crv", "P-256".into()), ("x", x), ("y", y)], t)
            }
            Pair::Ed(p) => {
                let x = B64.encode(p.public_key().as_ref());
                let t = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
                (vec![("kty", "OKP".into()), ("crv", "Ed25519".into()), ("x", x)], t)
            }
        };
        let kid = kid.unwrap_or_else(|| {
            B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, thumb_input.as_bytes()))
        });
        public.insert("kid".into(), kid.clone().into());
        public.insert("use".into(), "sig".into());
        public.insert("alg".into(), alg.as_str().into());
        for (k, v) in members {
            public.insert(k.into(), v.into());
        }
        SigningKey { kid, alg, pair, public_jwk: public, rng: SystemRandom::new() }
    }
}

/// Map aws-lc's key rejection to words.
fn rejected(e: aws_lc_rs::error::KeyRejected) -> String {
    match e.description_() {
        "TooSmall" => "RSA key under 2048 bits (at least 2048 are required)".into(),
        "TooLarge" => "RSA key over 8192 bits".into(),
        "InconsistentComponents" => "the key's members do not belong together (inconsistent private and public parts)".into(),
        "WrongAlgorithm" => "the key is not of the expected type or curve".into(),
        other => format!("rejected by aws-lc ({other})"),
    }
}

// ---------------------------------------------------------------------------------------
// Reading the file

/// Read the whole file into one zeroizing buffer. A regular file is read into a single
/// allocation of its size plus one byte (so its end is seen without growing). A pipe or
/// other stream of unknown size grows by hand: a new zeroizing buffer, a copy, and the old
/// buffer wiped as it drops. `Vec`'s own growth would free the old copy unwiped.
fn read_secret(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata().ok().and_then(|m| usize::try_from(m.len()).ok()).unwrap_or(0);
    let mut buf = Zeroizing::new(vec![0u8; size.saturating_add(1).max(512)]);
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            let mut bigger = Zeroizing::new(vec![0u8; buf.len().saturating_mul(2)]);
            bigger[..filled].copy_from_slice(&buf[..filled]);
            buf = bigger;
        }
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled); // Keeps the allocation; `Zeroizing` wipes all of it on drop.
    Ok(buf)
}

// ---------------------------------------------------------------------------------------
// JWK sets

/// A parsed JSON document whose every string, member names included, is wiped when it is
/// dropped. This covers every key of the set, not only the selected one, and also the
/// partial tree serde_json drops when the JSON turns out to be invalid halfway.
/// `serde_json::Value` cannot do this: its strings are freed unwiped.
enum Json {
    Str(Zeroizing<String>),
    Array(Vec<Json>),
    /// Members in document order. A repeated name: the last one counts, as in serde_json.
    Object(Vec<(Zeroizing<String>, Json)>),
    /// `null`, a boolean or a number. A JWK keeps no secret in those.
    Other,
}

impl Json {
    fn parse(text: &str) -> serde_json::Result<Json> {
        serde_json::from_str(text)
    }

    fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k.as_str() == name).map(|(_, v)| v),
            _ => None,
        }
    }

    fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }
}

impl PartialEq<&str> for Json {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

/// Each string goes straight from the input text into an exact-size `Zeroizing<String>`.
/// The one exception is inside serde_json: a string with escapes (`\u0041`) is first
/// unescaped into its scratch buffer, which it frees unwiped. No JWK writer escapes
/// base64url text.
struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Json, E> {
        Ok(Json::Str(Zeroizing::new(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Json, E> {
        Ok(Json::Str(Zeroizing::new(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        // Growing this vector moves only `Json` handles (pointers), never string bytes.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some(name) = map.next_key::<Json>()? {
            let value = map.next_value::<Json>()?;
            match name {
                Json::Str(name) => members.push((name, value)),
                _ => return Err(de::Error::custom("a member name that is not a string")),
            }
        }
        Ok(Json::Object(members))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

fn from_jwk_set(text: &str, file: &str, kid: Option<&str>, alg: Option<Alg>) -> Result<SigningKey, KeyError> {
    let err = |key: Option<String>, message: String| KeyError { file: file.into(), key, message };
    // Every string of the document (all its keys) is wiped when `doc` drops, on every path.
    let doc = Json::parse(text).map_err(|e| err(None, format!("not valid JSON: {e}")))?;
    let keys: Vec<&Json> = match doc.get("keys") {
        Some(Json::Array(keys)) => keys
            .iter()
            .enumerate()
            .map(|(i, k)| if k.is_object() { Ok(k) } else { Err(err(Some(format!("key {i}")), "not a JSON object".into())) })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err(None, "`keys` is not an array".into())),
        None if doc.get("kty").is_some() => vec![&doc],
        None => return Err(err(None, "a JSON object without `keys` (nor a single JWK with `kty`)".into())),
    };
    let name = |i: usize, k: &Json| match k.get("kid").and_then(Json::as_str) {
        Some(kid) => format!("key {i} (kid {kid:?})"),
        None => format!("key {i}"),
    };
    let is_signing = |k: &Json| {
        let use_ok = k.get("use").is_none_or(|u| *u == "sig");
        let ops_ok = k
            .get("key_ops")
            .and_then(Json::as_array)
            .is_none_or(|ops| ops.iter().any(|o| *o == "sign"));
        use_ok && ops_ok
    };
    let (index, jwk) = match kid {
        Some(want) => {
            let found = keys.iter().enumerate().find(|(_, k)| k.get("kid").and_then(Json::as_str) == Some(want));
            let Some((i, k)) = found else {
                let kids: Vec<String> = keys
                    .iter()
                    .filter_map(|k| k.get("kid").and_then(Json::as_str).map(|s| format!("{s:?}")))
                    .collect();
                return Err(err(None, format!("no key with kid {want:?} (kids in the set: {})", if kids.is_empty() { "none".into() } else { kids.join(", ") })));
            };
            if !is_signing(k) {
                return Err(err(Some(name(i, k)), "not a signing key (`use` is not \"sig\" or `key_ops` lacks \"sign\")".into()));
            }
            (i, *k)
        }
        None => {
            let Some((i, k)) = keys.iter().enumerate().find(|(_, k)| is_signing(k)) else {
                return Err(err(None, format!("no signing key (`use`: \"sig\") among its {} keys", keys.len())));
            };
            (i, *k)
        }
    };
    parse_jwk(jwk, alg).map_err(|m| err(Some(name(index, jwk)), m))
}

/// A base64url member, decoded straight into an exact-size zeroizing buffer (wiped on drop,
/// on the error paths too). Used for the public members as well, so that no member needs
/// thought about whether it is secret.
fn member(jwk: &Json, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Json::Str(s)) => {
            let s = s.trim_end_matches('=');
            let mut out = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(s.len())]);
            let n = B64.decode_slice(s, &mut out[..]).map_err(|e| match e {
                base64::DecodeSliceError::DecodeError(e) => format!("member `{name}` is not base64url: {e}"),
                base64::DecodeSliceError::OutputSliceTooSmall => format!("member `{name}` is not base64url"),
            })?;
            out.truncate(n);
            Ok(Some(out))
        }
        Some(_) => Err(format!("member `{name}` is not a string")),
    }
}

fn required(jwk: &Json, name: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    member(jwk, name)?.ok_or_else(|| format!("missing member `{name}`"))
}

fn private(jwk: &Json, name: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    member(jwk, name)?.ok_or_else(|| format!("missing private part (`{name}`): this is a public key; the host needs the private key to sign"))
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

fn bits(b: &[u8]) -> usize {
    let b = strip_zeros(b);
    b.first().map_or(0, |f| b.len() * 8 - f.leading_zeros() as usize)
}

/// Check the configured alg against the key type and the JWK's own `alg`.
fn pick_alg(family: &str, own: Option<&str>, configured: Option<Alg>, default: Alg) -> Result<Alg, String> {
    let own = match own {
        None => None,
        Some(s) => match Alg::parse(s) {
            Some(a) if a.family() == family => Some(a),
            Some(a) => return Err(format!("`alg` {a} does not fit a key of kty {family}")),
            None => return Err(format!("unsupported alg {s:?} (supported: RS256, PS256, ES256, EdDSA)")),
        },
    };
    if let Some(c) = configured {
        if c.family() != family {
            return Err(format!("the configured alg {c} does not fit a key of kty {family}"));
        }
        if let Some(o) = own {
            if o != c {
                return Err(format!("the configured alg {c} differs from the key's own `alg` {o}"));
            }
        }
    }
    Ok(own.or(configured).unwrap_or(default))
}

fn parse_jwk(jwk: &Json, alg: Option<Alg>) -> Result<SigningKey, String> {
    let kid = match jwk.get("kid") {
        None => None,
        Some(Json::Str(s)) if !s.is_empty() => Some(s.as_str().to_owned()),
        Some(_) => return Err("`kid` is not a non-empty string".into()),
    };
    let own_alg = jwk.get("alg").map(|a| a.as_str().ok_or("`alg` is not a string")).transpose()?;
    let kty = jwk.get("kty").and_then(Json::as_str).ok_or("missing `kty`")?;
    let crv = jwk.get("crv").and_then(Json::as_str);
    // Every decoded member below is a `Zeroizing<Vec<u8>>`: wiped when this function returns,
    // whichever way. aws-lc copies what it keeps into its own memory (see the module doc).
    match kty {
        "RSA" => {
            let alg = pick_alg("RSA", own_alg, alg, Alg::RS256)?;
            let n = required(jwk, "n")?;
            let e = required(jwk, "e")?;
            let d = private(jwk, "d")?;
            let size = bits(&n);
            if size < 2048 {
                return Err(format!("RSA key of {size} bits: under 2048 bits (at least 2048 are required)"));
            }
            if jwk.contains_key("oth") {
                return Err("multi-prime RSA keys (`oth`) are not supported".into());
            }
            let crt = |m: &str| {
                member(jwk, m)?.ok_or_else(|| {
                    format!("missing member `{m}`: RSA private keys need the CRT parameters p, q, dp, dq, qi")
                })
            };
            let (p, q, dp, dq, qi) = (crt("p")?, crt("q")?, crt("dp")?, crt("dq")?, crt("qi")?);
            let components = KeyPairComponents {
                public_key: PublicKeyComponents { n: strip_zeros(&n), e: strip_zeros(&e) },
                d: &d[..],
                p: &p[..],
                q: &q[..],
                dP: &dp[..],
                dQ: &dq[..],
                qInv: &qi[..],
            };
            let pair = RsaKeyPair::from_components(&components).map_err(rejected)?;
            Ok(SigningKey::new(Pair::Rsa(pair), alg, kid))
        }
        "EC" => {
            let alg = pick_alg("EC", own_alg, alg, Alg::ES256)?;
            expect_crv(crv, "EC", "ES256", "P-256")?;
            let x = required(jwk, "x")?;
            let y = required(jwk, "y")?;
            let d = private(jwk, "d")?;
            if x.len() != 32 || y.len() != 32 || d.len() != 32 {
                return Err("P-256 members `x`, `y` and `d` must be 32 bytes each".into());
            }
            let mut point = [0u8; 65];
            point[0] = 4;
            point[1..33].copy_from_slice(&x);
            point[33..].copy_from_slice(&y);
            let pair = EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, &d, &point)
                .map_err(rejected)?;
            Ok(SigningKey::new(Pair::Ec(pair), alg, kid))
        }
        "OKP" => {
            let alg = pick_alg("OKP", own_alg, alg, Alg::EdDSA)?;
            expect_crv(crv, "OKP", "EdDSA", "Ed25519")?;
            let x = required(jwk, "x")?;
            let d = private(jwk, "d")?;
            let pair = Ed25519KeyPair::from_seed_and_public_key(&d, &x).map_err(rejected)?;
            Ok(SigningKey::new(Pair::Ed(pair), alg, kid))
        }
        other => Err(format!("unsupported kty {other:?} (supported: RSA, EC, OKP)")),
    }
}

/// The one curve `alg` signs with for keys of type `kty`.
fn expect_crv(crv: Option<&str>, kty: &str, alg: &str, want: &str) -> Result<(), String> {
    match crv {
        Some(c) if c == want => Ok(()),
        Some(c) => Err(format!("unsupported crv {c:?} for kty {kty} ({alg} needs {want})")),
        None => Err("missing member `crv`".into()),
    }
}

// ---------------------------------------------------------------------------------------
// PEM

const OID_RSA: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_ED25519: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.101.112");

/// The PEM blocks of `text`: each block's label and its text from `-----BEGIN` through the
/// end of its `-----END <label>-----` line, borrowed from `text` (no copy). Text between
/// blocks is ignored.
fn pem_blocks(text: &str) -> Result<Vec<(&str, &str)>, String> {
    const BEGIN: &str = "-----BEGIN ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let label = after
            .find("-----")
            .map(|end| &after[..end])
            .filter(|label| !label.contains(['\n', '\r']))
            .ok_or("a \"-----BEGIN\" line without its closing \"-----\"")?;
        let body = start + BEGIN.len() + label.len() + "-----".len();
        let end_line = format!("-----END {label}-----");
        let end = rest[body..]
            .find(&end_line)
            .map(|at| body + at + end_line.len())
            .ok_or_else(|| format!("no {end_line:?} line"))?;
        blocks.push((label, &rest[start..end]));
        rest = &rest[end..];
    }
    Ok(blocks)
}

/// Decode one PEM block (RFC 7468, with pem-rfc7468) straight into an exact-size zeroizing
/// buffer: no intermediate copy of its base64 text nor of the DER, and the buffer is wiped
/// on the error paths too. The line width is the block's own (64 for OpenSSL; some
/// tools wrap at 76): every line but the last must have it.
fn decode_pem_block(block: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let first_line = block.lines().nth(1).unwrap_or("").trim_end();
    let width = first_line.len().max(4);
    // RFC 7468 has no headers; base64 has no `:`. A `Proc-Type: 4,ENCRYPTED` header is the
    // usual reason (OpenSSL's legacy encrypted PEM).
    let pem_error = |e: pem_rfc7468::Error| {
        if block.contains(':') {
            "not valid PEM: it has headers (`Proc-Type: 4,ENCRYPTED`?): encrypted private keys are not supported (decrypt it: `openssl pkcs8 -topk8 -nocrypt`)".to_owned()
        } else {
            format!("not valid PEM: {e}")
        }
    };
    let mut decoder = pem_rfc7468::Decoder::new_wrapped(block.as_bytes(), width).map_err(pem_error)?;
    let mut der = Zeroizing::new(vec![0u8; decoder.remaining_len()]);
    let n = decoder.decode(&mut der[..]).map_err(pem_error)?.len();
    if !decoder.is_finished() {
        return Err("not valid PEM: trailing data in the block".into());
    }
    der.truncate(n);
    Ok(der)
}

fn from_pem(text: &str, file: &str, kid: Option<&str>, alg: Option<Alg>) -> Result<SigningKey, KeyError> {
    let err = |key: Option<String>, message: String| KeyError { file: file.into(), key, message };
    let blocks = pem_blocks(text).map_err(|e| err(None, format!("not valid PEM: {e}")))?;
    let Some((i, &(label, block))) = blocks
        .iter()
        .enumerate()
        .find(|(_, (label, _))| matches!(*label, "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY"))
    else {
        let labels: Vec<&str> = blocks.iter().map(|(label, _)| *label).collect();
        return Err(err(None, format!(
            "missing private part: no PRIVATE KEY block (found: {})",
            if labels.is_empty() { "nothing".into() } else { labels.join(", ") }
        )));
    };
    let name = format!("PEM block {i} ({label})");
    // Only the selected block is decoded; other blocks (certificates, a second key) never are.
    parse_pem_block(label, block, alg)
        .map(|(pair, alg)| SigningKey::new(pair, alg, kid.map(str::to_owned)))
        .map_err(|m| err(Some(name), m))
}

fn parse_pem_block(label: &str, block: &str, alg: Option<Alg>) -> Result<(Pair, Alg), String> {
    if label == "ENCRYPTED PRIVATE KEY" {
        return Err("encrypted private keys are not supported (decrypt it: `openssl pkcs8 -topk8 -nocrypt`)".into());
    }
    // The DER: wiped when this function returns. aws-lc parses it in place (a CBS over the
    // slice) into its own memory.
    let der_buf = decode_pem_block(block)?;
    let der = &der_buf[..];
    let rsa = |pair: RsaKeyPair| -> Result<(Pair, Alg), String> {
        Ok((Pair::Rsa(pair), pick_alg("RSA", None, alg, Alg::RS256)?))
    };
    match label {
        "RSA PRIVATE KEY" => rsa(RsaKeyPair::from_der(der).map_err(rejected)?),
        "EC PRIVATE KEY" => {
            let alg = pick_alg("EC", None, alg, Alg::ES256)?;
            let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map_err(|e| {
                    // Name the curve when it is another one aws-lc knows.
                    use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING as P384, ECDSA_P521_SHA512_FIXED_SIGNING as P521};
                    if EcdsaKeyPair::from_private_key_der(&P384, der).is_ok() {
                        "unsupported curve P-384: ES256 needs a P-256 key".to_owned()
                    } else if EcdsaKeyPair::from_private_key_der(&P521, der).is_ok() {
                        "unsupported curve P-521: ES256 needs a P-256 key".to_owned()
                    } else if e.description_() == "WrongAlgorithm" {
                        "unsupported curve: ES256 needs a P-256 key".to_owned()
                    } else {
                        format!("not a P-256 SEC1 EC private key ({})", rejected(e))
                    }
                })?;
            Ok((Pair::Ec(pair), alg))
        }
        _ => {
            let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|e| format!("not a PKCS#8 private key: {e}"))?;
            let oid = info.algorithm.oid;
            if oid == OID_RSA {
                rsa(RsaKeyPair::from_pkcs8(der).map_err(rejected)?)
            } else if oid == OID_EC {
                let curve = info.algorithm.parameters_oid().ok();
                if curve != Some(OID_P256) {
                    return Err(format!(
                        "unsupported EC curve {} (ES256 needs P-256, 1.2.840.10045.3.1.7)",
                        curve.map_or("<none>".into(), |c| c.to_string())
                    ));
                }
                let alg = pick_alg("EC", None, alg, Alg::ES256)?;
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(rejected)?;
                Ok((Pair::Ec(pair), alg))
            } else if oid == OID_ED25519 {
                let alg = pick_alg("OKP", None, alg, Alg::EdDSA)?;
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(rejected)?;
                Ok((Pair::Ed(pair), alg))
            } else {
                Err(format!("unsupported key algorithm (OID {oid}; supported: RSA, EC P-256, Ed25519)"))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Key generation (tests, benchmarks, examples)

/// A freshly generated private key in both file formats the host reads.
pub struct GeneratedKey {
    /// One private JWK (`kid`, `use: sig`, `alg` and every private member).
    pub private_jwk: Value,
    /// The same key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub pkcs8_pem: String,
}

impl GeneratedKey {
    /// `{"keys": [private JWK]}`.
    pub fn private_jwks(&self) -> Value {
        json!({ "keys": [self.private_jwk] })
    }
}

/// Generate a key for `alg` (RSA 2048 for RS256/PS256). For tests and benchmarks.
pub fn generate(alg: Alg, kid: &str) -> GeneratedKey {
    let b = |x: &[u8]| Value::String(B64.encode(x));
    let (der, members): (Vec<u8>, Vec<(&str, Value)>) = match alg {
        Alg::RS256 | Alg::PS256 => {
            let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key generation");
            let der = pair.as_der().expect("PKCS#8 export").as_ref().to_vec();
            let info = pkcs8::PrivateKeyInfo::try_from(&der[..]).expect("aws-lc writes valid PKCS#8");
            let k = pkcs1::RsaPrivateKey::try_from(info.private_key).expect("aws-lc writes valid PKCS#1");
            let u = |x: pkcs1::UintRef<'_>| b(x.as_bytes());
            let members = vec![
                ("kty", "RSA".into()),
                ("n", u(k.modulus)),
                ("e", u(k.public_exponent)),
                ("d", u(k.private_exponent)),
                ("p", u(k.prime1)),
                ("q", u(k.prime2)),
                ("dp", u(k.exponent1)),
                ("dq", u(k.exponent2)),
                ("qi", u(k.coefficient)),
            ];
            (der, members)
        }
        Alg::ES256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key generation");
            let der = pair.to_pkcs8v1().expect("PKCS#8 export").as_ref().to_vec();
            let point = pair.public_key().as_ref().to_vec();
            let d: aws_lc_rs::encoding::EcPrivateKeyBin<'_> = pair.private_key().as_be_bytes().expect("private key bytes");
            let members = vec![
                ("kty", "EC".into()),
                ("crv", "P-256".into()),
                ("x", b(&point[1..33])),
                ("y", b(&point[33..65])),
                ("d", b(d.as_ref())),
            ];
            (der, members)
        }
        Alg::EdDSA => {
            let pair = Ed25519KeyPair::generate().expect("Ed25519 key generation");
            let der = pair.to_pkcs8v1().expect("PKCS#8 export").as_ref().to_vec();
            let seed: aws_lc_rs::encoding::Curve25519SeedBin<'_> =
                pair.seed().expect("seed").as_be_bytes().expect("seed bytes");
            let members = vec![
                ("kty", "OKP".into()),
                ("crv", "Ed25519".into()),
                ("x", b(pair.public_key().as_ref())),
                ("d", b(seed.as_ref())),
            ];
            (der, members)
        }
    };
    let mut jwk = Map::new();
    jwk.insert("kid".into(), kid.into());
    jwk.insert("use".into(), "sig".into());
    jwk.insert("alg".into(), alg.as_str().into());
    for (k, v) in members {
        jwk.insert(k.into(), v);
    }
    GeneratedKey {
        private_jwk: Value::Object(jwk),
        pkcs8_pem: pem::encode(&pem::Pem::new("PRIVATE KEY", der)),
    }
}
