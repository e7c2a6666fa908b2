//! SET signing: the server's key held by the host, an RFC 8417 policy no guest can get
//! around, fast signing, the public JWK set.
//!
//! - `key`: load the key once (JWK set with private keys, or PEM), sign with the cached
//!   aws-lc-rs key pair, print the public JWK set.
//! - `policy`: what a guest may put in a SET, and the envelope the host adds.
//! - `Signer`: key + issuer + costs, shared by every listener (`Arc`); `SetPolicy`: one
//!   listener's audiences and per-call quota.
//!
//! Key material never enters guest memory: the key lives only in this host-side `Signer`
//! (an aws-lc-rs key pair behind an `Arc`, outside every store and every linear memory);
//! the `signer` import lowers into the guest nothing but its result — the compact JWS
//! (`header.claims.signature`, all three parts public) or a `sign-error` — and no other
//! import reads the key. The guest cannot name a memory address in the host, so there is no
//! path to a key byte.
//!
//! Signing takes no lock: aws-lc-rs key pairs are `Send + Sync` and sign through `&self`,
//! and the random source (`SystemRandom`) is stateless, so any number of listeners sign in
//! parallel.

mod bench;
pub mod key;
pub mod policy;

pub use bench::bench_signing;
pub use key::{generate, Alg, GeneratedKey, KeyError, SigningKey};
pub use policy::Refusal;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The default fuel charged per `sign-set` call: a fixed price, so a listener's fuel budget
/// reflects its signing. 250 k fuel is about 25 µs of guest compute; 16 signatures cost 4 M
/// of the default 10 M budget.
pub const DEFAULT_FUEL_PER_SIGNATURE: u64 = 250_000;

/// The default number of `sign-set` calls one listener may make per call into it.
pub const DEFAULT_MAX_SIGNATURES_PER_CALL: u32 = 16;

/// `[signing]` in the config file.
///
/// ```toml
/// [signing]
/// key_file = "keys/c2id-jwks.json"   # a JWK set with private keys, or PEM; relative to the config
/// kid = "set-2026-11"                # which key of the set (default: the first with use "sig")
/// issuer = "https://c2id.example.com"
/// ```
///
/// Recommended: a separate SET key in the server's JWK set (its own `kid`), so SETs and
/// tokens can be rotated apart and a SET can never verify as a token under the token key.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// The key file: a JSON Web Key set holding private keys (`kid`, `use: "sig"`, `alg`),
    /// or PEM (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`).
    /// Relative paths are relative to the config file.
    pub key_file: PathBuf,
    /// The key's `kid` in a JWK set (default: the first signing key). For a PEM key, the
    /// `kid` put in SET headers (default: the key's RFC 7638 thumbprint).
    #[serde(default)]
    pub kid: Option<String>,
    /// The `iss` of every SET: the OpenID provider's issuer URL.
    pub issuer: String,
    /// RS256 (default for RSA), PS256, ES256 or EdDSA. Needed only for PS256 with a PEM
    /// key; with a JWK it must agree with the key's own `alg`.
    #[serde(default)]
    pub alg: Option<String>,
    /// The cap on a SET's content, in bytes (default 65536); larger → `too-large`.
    #[serde(default)]
    pub max_set_bytes: Option<usize>,
    /// Fuel taken per `sign-set` call (default 250000).
    #[serde(default)]
    pub fuel_per_signature: Option<u64>,
}

impl SigningConfig {
    /// A config for `key_file` and `issuer`, every other setting default.
    pub fn new(key_file: impl Into<PathBuf>, issuer: impl Into<String>) -> Self {
        SigningConfig {
            key_file: key_file.into(),
            kid: None,
            issuer: issuer.into(),
            alg: None,
            max_set_bytes: None,
            fuel_per_signature: None,
        }
    }

    /// Resolve a relative `key_file` against the config file's directory.
    pub fn resolve(&mut self, base: &Path) {
        if self.key_file.is_relative() {
            self.key_file = base.join(&self.key_file);
        }
    }

    /// Check what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.issuer.trim().is_empty() {
            return Err("[signing]: issuer is empty".into());
        }
        if let Some(a) = &self.alg {
            a.parse::<Alg>().map_err(|e| format!("[signing] alg: {e}"))?;
        }
        if self.max_set_bytes == Some(0) {
            return Err("[signing]: max_set_bytes must be at least 1".into());
        }
        Ok(())
    }
}

/// Apply the command line's `--signing-key FILE` (with its `--kid`) and `--issuer URL` over
/// `[signing]`.
/// A key without an issuer (from either place) is an error, and so is an issuer alone.
pub fn apply_overrides(
    signing: &mut Option<SigningConfig>,
    key_file: Option<PathBuf>,
    kid: Option<String>,
    issuer: Option<String>,
) -> Result<(), String> {
    match (signing.as_mut(), key_file, issuer) {
        (_, None, None) => {}
        (Some(s), key, iss) => {
            if let Some(k) = key {
                s.key_file = k;
                // A kid/alg chosen for the config's key need not fit another file.
                s.kid = kid;
                s.alg = None;
            }
            if let Some(i) = iss {
                s.issuer = i;
            }
        }
        (None, Some(k), Some(i)) => *signing = Some(SigningConfig { kid, ..SigningConfig::new(k, i) }),
        (None, Some(_), None) => return Err("--signing-key needs --issuer URL (or [signing] issuer in the config)".into()),
        (None, None, Some(_)) => return Err("--issuer needs --signing-key FILE (or [signing] key_file in the config)".into()),
    }
    if let Some(s) = signing {
        s.validate()?;
    }
    Ok(())
}

/// One listener's signing policy: its configured audiences and per-call quota.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetPolicy {
    /// `set_audiences` from the listener's config; the only audiences its SETs can carry.
    pub audiences: Vec<String>,
    /// `max_signatures_per_call` (default 16); 0 forbids signing.
    pub max_signatures_per_call: u32,
}

impl Default for SetPolicy {
    fn default() -> Self {
        SetPolicy { audiences: Vec::new(), max_signatures_per_call: DEFAULT_MAX_SIGNATURES_PER_CALL }
    }
}

/// The host's SET signer: the parsed key, the issuer and the costs. Built once at host
/// build time; shared by every listener's store.
#[derive(Debug)]
pub struct Signer {
    key: SigningKey,
    issuer: String,
    /// `base64url(header)` + `.`, fixed for the key.
    header_prefix: String,
    max_set_bytes: usize,
    fuel_per_signature: u64,
    rng: SystemRandom,
}

impl Signer {
    pub fn new(key: SigningKey, issuer: impl Into<String>) -> Signer {
        let header = serde_json::json!({"alg": key.alg().as_str(), "typ": "secevent+jwt", "kid": key.kid()});
        let signer = Signer {
            header_prefix: format!("{}.", B64.encode(header.to_string())),
            key,
            issuer: issuer.into(),
            max_set_bytes: policy::DEFAULT_MAX_SET_BYTES,
            fuel_per_signature: DEFAULT_FUEL_PER_SIGNATURE,
            rng: SystemRandom::new(),
        };
        // The first signature and random draw of a process pay aws-lc's one-time set-up
        // (21.6 ms for the first RS256 SET of a replay, measured), which would otherwise land
        // inside a listener's deadline.
        signer.key.sign(b"warm-up");
        let mut scratch = [0u8; 16];
        signer.rng.fill(&mut scratch).expect("the system random source works");
        signer
    }

    /// Load the key named by `[signing]`: errors name the file, the key and the problem.
    pub fn from_config(config: &SigningConfig) -> Result<Signer, KeyError> {
        let alg = match &config.alg {
            None => None,
            Some(a) => Some(a.parse::<Alg>().map_err(|message| KeyError {
                file: config.key_file.display().to_string(),
                key: None,
                message,
            })?),
        };
        let key = SigningKey::load(&config.key_file, config.kid.as_deref(), alg)?;
        let mut signer = Signer::new(key, config.issuer.clone());
        if let Some(n) = config.max_set_bytes {
            signer.max_set_bytes = n;
        }
        if let Some(f) = config.fuel_per_signature {
            signer.fuel_per_signature = f;
        }
        Ok(signer)
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn fuel_per_signature(&self) -> u64 {
        self.fuel_per_signature
    }

    pub fn max_set_bytes(&self) -> usize {
        self.max_set_bytes
    }

    /// The public JWK set receivers verify SETs with.
    pub fn public_jwks(&self) -> Value {
        self.key.public_jwks()
    }

    /// Check `content` against the SET policy for `policy`'s listener, add the envelope,
    /// sign: the compact JWS. (The quota is counted by the caller, per call into a guest.)
    pub fn sign_set(&self, policy: &SetPolicy, content: &str, audience: Option<&str>) -> Result<String, Refusal> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        self.sign_set_at(policy, content, audience, now)
    }

    /// `sign_set` with `iat` given.
    pub fn sign_set_at(&self, policy: &SetPolicy, content: &str, audience: Option<&str>, iat: i64) -> Result<String, Refusal> {
        if content.len() > self.max_set_bytes {
            return Err(Refusal::TooLarge(self.max_set_bytes.min(u32::MAX as usize) as u32));
        }
        let aud = match audience {
            Some(a) if policy.audiences.iter().any(|x| x == a) => Some(Value::from(a)),
            // Echo only the start of what the guest sent: it may be megabytes.
            Some(a) => return Err(Refusal::AudienceNotAllowed(crate::text::truncate(a, 256).to_owned())),
            None => match policy.audiences.as_slice() {
                [] => None,
                [one] => Some(Value::from(one.as_str())),
                all => Some(Value::from(all.to_vec())),
            },
        };
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti).expect("the system random source works");
        let claims = policy::build_claims(content, &self.issuer, iat, &B64.encode(jti), aud)?;
        let payload = serde_json::to_vec(&claims).expect("a JSON map serializes");
        let mut jws = String::with_capacity(self.header_prefix.len() + payload.len() * 4 / 3 + 400);
        jws.push_str(&self.header_prefix);
        B64.encode_string(&payload, &mut jws);
        let signature = self.key.sign(jws.as_bytes());
        jws.push('.');
        B64.encode_string(signature, &mut jws);
        Ok(jws)
    }
}

#[cfg(test)]
mod tests;
