//! The signing key: loaded once from a JSON Web Key set holding private keys, or from PEM
//! (PKCS#8, PKCS#1 RSA, SEC1 EC), parsed once into an aws-lc-rs key pair, then used for every
//! signature without re-parsing and without any lock (aws-lc-rs key pairs are `Sync`).
//!
//! Supported: RS256 (the default for RSA keys, as for Connect2id's JWT access tokens), PS256,
//! ES256 (P-256) and EdDSA (Ed25519). RSA keys must have at least 2048 bits.

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::fmt;
use std::path::Path;

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
        let bytes = std::fs::read(path).map_err(|e| KeyError {
            file: file.clone(),
            key: None,
            message: format!("cannot read: {e}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| KeyError {
            file: file.clone(),
            key: None,
            message: "not text: expected a JWK set (JSON) or PEM (DER files are not supported)".into(),
        })?;
        SigningKey::from_text(&text, &file, kid, alg)
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
// JWK sets

fn from_jwk_set(text: &str, file: &str, kid: Option<&str>, alg: Option<Alg>) -> Result<SigningKey, KeyError> {
    let err = |key: Option<String>, message: String| KeyError { file: file.into(), key, message };
    let doc: Value = serde_json::from_str(text).map_err(|e| err(None, format!("not valid JSON: {e}")))?;
    let keys: Vec<&Map<String, Value>> = match doc.get("keys") {
        Some(Value::Array(keys)) => keys
            .iter()
            .enumerate()
            .map(|(i, k)| k.as_object().ok_or_else(|| err(Some(format!("key {i}")), "not a JSON object".into())))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err(None, "`keys` is not an array".into())),
        None if doc.get("kty").is_some() => vec![doc.as_object().expect("checked")],
        None => return Err(err(None, "a JSON object without `keys` (nor a single JWK with `kty`)".into())),
    };
    let name = |i: usize, k: &Map<String, Value>| match k.get("kid").and_then(Value::as_str) {
        Some(kid) => format!("key {i} (kid {kid:?})"),
        None => format!("key {i}"),
    };
    let is_signing = |k: &Map<String, Value>| {
        let use_ok = k.get("use").is_none_or(|u| u == "sig");
        let ops_ok = k
            .get("key_ops")
            .and_then(Value::as_array)
            .is_none_or(|ops| ops.iter().any(|o| o == "sign"));
        use_ok && ops_ok
    };
    let (index, jwk) = match kid {
        Some(want) => {
            let found = keys.iter().enumerate().find(|(_, k)| k.get("kid").and_then(Value::as_str) == Some(want));
            let Some((i, k)) = found else {
                let kids: Vec<String> = keys
                    .iter()
                    .filter_map(|k| k.get("kid").and_then(Value::as_str).map(|s| format!("{s:?}")))
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

fn member(jwk: &Map<String, Value>, name: &str) -> Result<Option<Vec<u8>>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => B64
            .decode(s.trim_end_matches('='))
            .map(Some)
            .map_err(|e| format!("member `{name}` is not base64url: {e}")),
        Some(_) => Err(format!("member `{name}` is not a string")),
    }
}

fn required(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    member(jwk, name)?.ok_or_else(|| format!("missing member `{name}`"))
}

fn private(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
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

fn parse_jwk(jwk: &Map<String, Value>, alg: Option<Alg>) -> Result<SigningKey, String> {
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err("`kid` is not a non-empty string".into()),
    };
    let own_alg = jwk.get("alg").map(|a| a.as_str().ok_or("`alg` is not a string")).transpose()?;
    let kty = jwk.get("kty").and_then(Value::as_str).ok_or("missing `kty`")?;
    let crv = jwk.get("crv").and_then(Value::as_str);
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
            let mut crt = Vec::new();
            for m in ["p", "q", "dp", "dq", "qi"] {
                crt.push(member(jwk, m)?.ok_or_else(|| {
                    format!("missing member `{m}`: RSA private keys need the CRT parameters p, q, dp, dq, qi")
                })?);
            }
            let components = KeyPairComponents {
                public_key: PublicKeyComponents { n: strip_zeros(&n), e: strip_zeros(&e) },
                d: &d[..],
                p: &crt[0][..],
                q: &crt[1][..],
                dP: &crt[2][..],
                dQ: &crt[3][..],
                qInv: &crt[4][..],
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
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
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

fn from_pem(text: &str, file: &str, kid: Option<&str>, alg: Option<Alg>) -> Result<SigningKey, KeyError> {
    let err = |key: Option<String>, message: String| KeyError { file: file.into(), key, message };
    let blocks = pem::parse_many(text).map_err(|e| err(None, format!("not valid PEM: {e}")))?;
    let Some((i, block)) = blocks
        .iter()
        .enumerate()
        .find(|(_, b)| matches!(b.tag(), "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY"))
    else {
        let tags: Vec<&str> = blocks.iter().map(|b| b.tag()).collect();
        return Err(err(None, format!(
            "missing private part: no PRIVATE KEY block (found: {})",
            if tags.is_empty() { "nothing".into() } else { tags.join(", ") }
        )));
    };
    let name = format!("PEM block {i} ({})", block.tag());
    parse_pem_block(block, alg)
        .map(|(pair, alg)| SigningKey::new(pair, alg, kid.map(str::to_owned)))
        .map_err(|m| err(Some(name), m))
}

fn parse_pem_block(block: &pem::Pem, alg: Option<Alg>) -> Result<(Pair, Alg), String> {
    let der = block.contents();
    let rsa = |pair: RsaKeyPair| -> Result<(Pair, Alg), String> {
        Ok((Pair::Rsa(pair), pick_alg("RSA", None, alg, Alg::RS256)?))
    };
    match block.tag() {
        "ENCRYPTED PRIVATE KEY" => Err("encrypted private keys are not supported (decrypt it: `openssl pkcs8 -topk8 -nocrypt`)".into()),
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
