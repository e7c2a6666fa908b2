//! The artifact cache: compiled components kept on disk, so a module this installation has
//! compiled before, with the same engine, loads without compiling; and identical modules
//! under several listener names compiled once per host.
//!
//! **Key.** An artifact is looked up by the module's SHA-256 under the engine's fingerprint:
//! the SHA-256 of this file's format version, the wasmtime version, the target, and wasmtime's
//! own `Engine::precompile_compatibility_hash` (the compiler's target, flags and detected CPU
//! features, the tunables such as fuel and epoch interruption, the Wasm features). An engine
//! that would compile differently has another fingerprint, so it never sees the artifact.
//!
//! **Layout.** `<dir>/<first 16 hex digits of the fingerprint>/<module SHA-256, 64 hex
//! digits>.cwasm`, each file:
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `TWCWASM\0` |
//! | 4 | format version, `u32` little-endian (2) |
//! | 32 | tag: BLAKE3 keyed hash (a MAC) under the installation's secret of the magic, the version, the whole 32-byte fingerprint, the module's SHA-256, the artifact's length (`u64` little-endian) and the artifact |
//! | rest | the artifact, `Component::serialize` |
//!
//! **Integrity.** `Component::deserialize` trusts its input: it maps the bytes as machine
//! code. So an artifact is read whole into memory, its tag checked over those very bytes (no
//! window between the check and the use, as mapping the file would leave), and only then
//! deserialized. The tag is BLAKE3's keyed mode rather than HMAC-SHA256: a JS or Python
//! listener's artifact is 40 MB, and BLAKE3 checks it several times faster (format 1 used
//! HMAC-SHA256; its artifacts are in another fingerprint's folder and are never read). A file that is short, of another format, fails its tag (corrupt, tampered
//! with, moved from another fingerprint or module, or made under another installation's
//! secret) or does not deserialize is removed, the module compiled and the artifact written
//! again. The secret is 32 random bytes, kept as 64 hex digits in a file outside the cache
//! directory, created with mode 0600 when missing; a key file that group or others can read
//! or write is refused (the cache is then off, with a warning): it would authenticate
//! nothing. The tag protects against whoever can write the cache directory but not read the
//! key file (another user, a shared or synced cache, a disk that flips bits); a process of
//! the same user can read the key and is not kept out.
//!
//! **Failure.** A cache that cannot be used (no key, a directory that cannot be created or
//! written) never stops a listener from loading: it warns once and compiles. Artifacts are
//! written to a temporary file in the same directory and renamed, so a crash never leaves a
//! half-written artifact under its real name (and one would fail its tag anyway); leftover
//! temporary files older than an hour are removed when the directory is opened.

use crate::config::CacheConfig;
use aws_lc_rs::digest;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::Engine;
use zeroize::Zeroizing;

/// The wasmtime this host is built with (`Cargo.lock`; a unit test keeps them equal).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// The artifact file format (also part of the fingerprint: another format, another folder).
const FORMAT: u32 = 2;
const MAGIC: [u8; 8] = *b"TWCWASM\0";
const HEADER_BYTES: usize = MAGIC.len() + 4 + TAG_BYTES;
const TAG_BYTES: usize = 32;
/// A file larger than this is not read (a 64 MiB module compiles to far less).
const MAX_ARTIFACT_BYTES: u64 = 1 << 30;
/// Temporary files older than this are a crashed writer's: removed at open.
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);

/// A SHA-256.
pub type Sha256 = [u8; 32];

/// Where a loaded component came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Compiled now.
    Compiled,
    /// Compiled earlier by this host, for another listener with the same module.
    Memory,
    /// Read from the artifact cache on disk.
    Disk,
}

impl Source {
    /// Not compiled for this load.
    pub fn from_cache(self) -> bool {
        self != Source::Compiled
    }
}

/// A component and where it came from.
pub struct Loaded {
    pub component: Component,
    pub source: Source,
    /// The module's SHA-256 (what names it here, in status and in reloads).
    pub sha256: Sha256,
}

/// The cache of one engine: cheap to clone (shared).
#[derive(Clone)]
pub struct ArtifactCache(Arc<Inner>);

struct Inner {
    engine: Engine,
    fingerprint: Sha256,
    /// The directory and the key file, when the disk cache is on (`None` in either: no
    /// default place for it).
    places: Option<(Option<PathBuf>, Option<PathBuf>)>,
    /// Opened at the first load (nothing is created for a host without listeners); `None`
    /// when off or unusable.
    disk: OnceLock<Option<Disk>>,
    /// Components compiled or read by this cache, by module SHA-256.
    memory: Mutex<HashMap<Sha256, Component>>,
    /// Whether a failed write was warned about (once per cache).
    write_warned: AtomicBool,
}

struct Disk {
    /// `<dir>/<fingerprint>`.
    dir: PathBuf,
    key: Key,
}

/// The installation's secret: the key of the artifacts' tags.
type Key = Zeroizing<[u8; 32]>;

impl ArtifactCache {
    /// The cache for `engine` as `[cache]` says. Never fails: the disk is opened at the first
    /// load, and a cache that cannot be used is warned about then.
    pub fn open(engine: &Engine, config: &CacheConfig) -> ArtifactCache {
        let places = config.enabled.then(|| (config.dir(), config.key_file()));
        ArtifactCache(Arc::new(Inner {
            engine: engine.clone(),
            fingerprint: fingerprint(engine),
            places,
            disk: OnceLock::new(),
            memory: Mutex::default(),
            write_warned: AtomicBool::new(false),
        }))
    }

    /// A cache without disk: identical modules are still compiled once.
    pub fn in_memory(engine: &Engine) -> ArtifactCache {
        ArtifactCache::open(engine, &CacheConfig { enabled: false, ..CacheConfig::default() })
    }

    /// The engine's fingerprint as the name of its folder (16 hex digits).
    pub fn fingerprint_hex(&self) -> String {
        hex(&self.0.fingerprint[..8])
    }

    /// The component for `bytes`: from this cache's memory, from the disk (verified), or
    /// compiled by `compile` (and then written to the disk). Only `compile`'s error is an
    /// error: any trouble with the cache is warned about and answered by compiling.
    pub fn load(&self, bytes: &[u8], compile: impl FnOnce(&[u8]) -> Result<Component, String>) -> Result<Loaded, String> {
        let sha: Sha256 = sha256(bytes);
        if let Some(component) = self.0.memory.lock().get(&sha) {
            return Ok(Loaded { component: component.clone(), source: Source::Memory, sha256: sha });
        }
        let disk = self.disk();
        if let Some(component) = disk.and_then(|d| d.read(&self.0.engine, &self.0.fingerprint, &sha)) {
            self.0.memory.lock().insert(sha, component.clone());
            return Ok(Loaded { component, source: Source::Disk, sha256: sha });
        }
        let component = compile(bytes)?;
        if let Some(disk) = disk {
            if let Err(why) = disk.write(&self.0.fingerprint, &sha, &component) {
                if !self.0.write_warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!("artifact cache: {why}; listeners are compiled at every start until this is fixed");
                } else {
                    tracing::debug!("artifact cache: {why}");
                }
            }
        }
        self.0.memory.lock().insert(sha, component.clone());
        Ok(Loaded { component, source: Source::Compiled, sha256: sha })
    }

    fn disk(&self) -> Option<&Disk> {
        self.0
            .disk
            .get_or_init(|| {
                let opened = match self.0.places.as_ref()? {
                    (Some(dir), Some(key_file)) => Disk::open(dir, key_file, &self.0.fingerprint),
                    _ => Err("no place for it: neither $XDG_CACHE_HOME and $XDG_STATE_HOME nor $HOME is set ([cache] dir and key_file give one)".to_owned()),
                };
                opened
                    .inspect_err(|why| tracing::warn!("artifact cache off: {why}; listeners are compiled"))
                    .ok()
            })
            .as_ref()
    }
}

impl Disk {
    fn open(root: &Path, key_file: &Path, fingerprint: &Sha256) -> Result<Disk, String> {
        let absolute = |p: &Path| std::env::current_dir().map(|cwd| cwd.join(p)).unwrap_or_else(|_| p.to_owned());
        if absolute(key_file).starts_with(absolute(root)) {
            return Err(format!(
                "the key file {} is inside the cache directory {}: keep the secret outside it ([cache] key_file)",
                key_file.display(),
                root.display()
            ));
        }
        let key = load_or_create_key(key_file)?;
        let dir = root.join(hex(&fingerprint[..8]));
        create_private_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        remove_stale_temporaries(&dir);
        Ok(Disk { dir, key })
    }

    fn path(&self, sha: &Sha256) -> PathBuf {
        self.dir.join(format!("{}.cwasm", hex(sha)))
    }

    /// The verified, deserialized artifact, or `None` (missing, or discarded with a warning).
    fn read(&self, engine: &Engine, fingerprint: &Sha256, sha: &Sha256) -> Option<Component> {
        let path = self.path(sha);
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(artifact = %path.display(), "artifact cache: cannot read the artifact ({e}); compiling");
                return None;
            }
        };
        let data = match read_whole(file) {
            Ok(data) => data,
            Err(e) => {
                tracing::warn!(artifact = %path.display(), "artifact cache: cannot read the artifact ({e}); compiling");
                return None;
            }
        };
        let discard = |why: &str| {
            tracing::warn!(artifact = %path.display(), "artifact cache: {why}: discarded, compiling");
            let _ = std::fs::remove_file(&path);
            None
        };
        if data.len() as u64 > MAX_ARTIFACT_BYTES {
            return discard("the artifact is larger than 1 GiB");
        }
        if data.len() < HEADER_BYTES || data[..MAGIC.len()] != MAGIC || data[MAGIC.len()..MAGIC.len() + 4] != FORMAT.to_le_bytes() {
            return discard("not an artifact of this format (corrupt or truncated)");
        }
        let (tag, artifact) = data[MAGIC.len() + 4..].split_at(TAG_BYTES);
        let expected = sign(&self.key, fingerprint, sha, artifact);
        // `blake3::Hash` compares in constant time.
        if blake3::Hash::from_slice(tag).ok() != Some(expected) {
            return discard("the artifact failed its integrity check (corrupt, tampered with, or made under another installation's key)");
        }
        // SAFETY: `deserialize` maps `artifact` as code. These are the very bytes whose tag
        // under this installation's secret was just verified, so they are an artifact this
        // installation wrote with `Component::serialize` for this module and an engine of this
        // fingerprint (wasmtime also refuses one built for an incompatible engine).
        match unsafe { Component::deserialize(engine, artifact) } {
            Ok(component) => Some(component),
            Err(e) => discard(&format!("a verified artifact did not load ({e:#})")),
        }
    }

    /// Write the artifact: to a temporary file in the same folder, then renamed over the
    /// real name.
    fn write(&self, fingerprint: &Sha256, sha: &Sha256, component: &Component) -> Result<(), String> {
        let path = self.path(sha);
        let artifact = component.serialize().map_err(|e| format!("cannot serialize a component: {e:#}"))?;
        if artifact.len() as u64 + HEADER_BYTES as u64 > MAX_ARTIFACT_BYTES {
            return Ok(()); // not kept: it would not be read
        }
        let tag = sign(&self.key, fingerprint, sha, &artifact);
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        let mut file = tempfile::Builder::new().prefix(".").suffix(".tmp").tempfile_in(&self.dir).map_err(fail)?;
        let f = file.as_file_mut();
        f.write_all(&MAGIC).map_err(fail)?;
        f.write_all(&FORMAT.to_le_bytes()).map_err(fail)?;
        f.write_all(tag.as_bytes()).map_err(fail)?;
        f.write_all(&artifact).map_err(fail)?;
        f.sync_data().map_err(fail)?;
        file.persist(&path).map_err(|e| fail(e.error))?;
        Ok(())
    }
}

/// A file's bytes (at most `MAX_ARTIFACT_BYTES` + 1), in memory of this process. The buffer is
/// mapped with its pages made present in one go (`MAP_POPULATE`): a 40 MB artifact read into
/// a growing `Vec` took 10,000 page faults and two more copies, most of a cached load.
fn read_whole(mut file: std::fs::File) -> std::io::Result<memmap2::MmapMut> {
    let size = file.metadata()?.len().min(MAX_ARTIFACT_BYTES + 1) as usize;
    let mut data = memmap2::MmapOptions::new().len(size.max(1)).populate().map_anon()?;
    file.read_exact(&mut data[..size])?;
    // A file that grew since its length was read is not an artifact being read whole.
    if size as u64 <= MAX_ARTIFACT_BYTES && file.read(&mut [0u8])? != 0 {
        return Err(std::io::Error::other("the file changed while it was read"));
    }
    Ok(data)
}

/// The tag of an artifact (see the module's documentation).
fn sign(key: &Key, fingerprint: &Sha256, sha: &Sha256, artifact: &[u8]) -> blake3::Hash {
    let mut mac = blake3::Hasher::new_keyed(key);
    mac.update(&MAGIC);
    mac.update(&FORMAT.to_le_bytes());
    mac.update(fingerprint);
    mac.update(sha);
    mac.update(&(artifact.len() as u64).to_le_bytes());
    mac.update(artifact);
    mac.finalize()
}

/// The engine's fingerprint (see the module's documentation).
pub fn fingerprint(engine: &Engine) -> Sha256 {
    /// A `Hasher` feeding SHA-256: the same on every run, unlike `DefaultHasher`'s promise.
    struct Sha(digest::Context);
    impl Hasher for Sha {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            let d = self.0.clone().finish();
            u64::from_le_bytes(d.as_ref()[..8].try_into().expect("8 bytes"))
        }
    }
    let mut h = Sha(digest::Context::new(&digest::SHA256));
    "tokenwatch artifact".hash(&mut h);
    FORMAT.hash(&mut h);
    WASMTIME_VERSION.hash(&mut h);
    (std::env::consts::ARCH, std::env::consts::OS, std::env::consts::FAMILY).hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    h.0.finish().as_ref().try_into().expect("32 bytes")
}

pub fn sha256(bytes: &[u8]) -> Sha256 {
    digest::digest(&digest::SHA256, bytes).as_ref().try_into().expect("32 bytes")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The secret in `path`, or a new one written there if there is none.
fn load_or_create_key(path: &Path) -> Result<Key, String> {
    match read_key(path) {
        Err(KeyFile::Missing) => create_key(path),
        Err(KeyFile::Bad(why)) => Err(why),
        Ok(key) => Ok(key),
    }
}

enum KeyFile {
    Missing,
    Bad(String),
}

fn read_key(path: &Path) -> Result<Key, KeyFile> {
    let shown = path.display();
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(KeyFile::Missing),
        Err(e) => return Err(KeyFile::Bad(format!("cannot read the key file {shown}: {e}"))),
    };
    let meta = file.metadata().map_err(|e| KeyFile::Bad(format!("cannot read the key file {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(KeyFile::Bad(format!("the key file {shown} is not a regular file")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFile::Bad(format!(
                "the key file {shown} can be read or written by group or others (mode {mode:03o}): `chmod 600` it, or delete it to have a new one made"
            )));
        }
    }
    let mut text = Zeroizing::new(String::new());
    (&mut file)
        .take(256)
        .read_to_string(&mut text)
        .map_err(|e| KeyFile::Bad(format!("cannot read the key file {shown}: {e}")))?;
    let mut secret = Zeroizing::new([0u8; 32]);
    let digits = text.trim().as_bytes();
    let valid = digits.len() == 64
        && digits.chunks(2).zip(secret.iter_mut()).all(|(pair, byte)| {
            let pair = std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok());
            pair.map(|b| *byte = b).is_some()
        });
    if !valid {
        return Err(KeyFile::Bad(format!(
            "the key file {shown} does not hold 64 hex digits (32 bytes): delete it to have a new one made"
        )));
    }
    Ok(secret)
}

/// 32 random bytes, written atomically (a temporary file linked to `path` only if `path`
/// still does not exist: of two processes creating it at once, both use the one that won).
fn create_key(path: &Path) -> Result<Key, String> {
    let shown = path.display();
    let fail = |e: std::io::Error| format!("cannot create the key file {shown}: {e}");
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_private_dir(parent).map_err(fail)?;
    let mut secret = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut secret[..]).map_err(|_| format!("cannot create the key file {shown}: no random bytes"))?;
    let text = Zeroizing::new(format!("{}\n", hex(&secret[..])));
    // Made with mode 0600 (tempfile's default on Unix), set again in case.
    let mut file = tempfile::Builder::new().prefix(".cache.key.").suffix(".tmp").tempfile_in(parent).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file().set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    }
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    match file.persist_noclobber(path) {
        Ok(_) => {
            tracing::info!(key_file = %shown, "artifact cache: created the installation's key");
            Ok(secret)
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => read_key(path).map_err(|e| match e {
            KeyFile::Missing => format!("the key file {shown} vanished while it was created"),
            KeyFile::Bad(why) => why,
        }),
        Err(e) => Err(fail(e.error)),
    }
}

/// `dir` and its missing parents, made with mode 0700 on Unix.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Remove the temporary files of writers that crashed (older than an hour).
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMPORARY);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(fuel: bool) -> Engine {
        let mut config = wasmtime::Config::new();
        config.consume_fuel(fuel);
        config.epoch_interruption(true);
        Engine::new(&config).unwrap()
    }

    /// The smallest component.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    fn compile(engine: &Engine) -> impl Fn(&[u8]) -> Result<Component, String> + '_ {
        |bytes| Component::new(engine, bytes).map_err(|e| format!("{e:#}"))
    }

    fn config(dir: &Path) -> CacheConfig {
        CacheConfig { enabled: true, dir: Some(dir.join("artifacts")), key_file: Some(dir.join("state/cache.key")) }
    }

    fn artifacts(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for sub in std::fs::read_dir(dir.join("artifacts")).unwrap().flatten() {
            found.extend(std::fs::read_dir(sub.path()).unwrap().flatten().map(|e| e.path()));
        }
        found
    }

    #[test]
    fn the_wasmtime_version_is_the_one_in_the_lock_file() {
        let lock = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"));
        let entry = format!("name = \"wasmtime\"\nversion = \"{WASMTIME_VERSION}\"\n");
        assert!(lock.contains(&entry), "update WASMTIME_VERSION to the wasmtime in Cargo.lock");
    }

    #[test]
    fn the_fingerprint_is_stable_and_follows_the_engine_settings() {
        let (fuel, epoch) = (engine(true), engine(false));
        assert_eq!(fingerprint(&fuel), fingerprint(&engine(true)));
        assert_ne!(fingerprint(&fuel), fingerprint(&epoch));
    }

    #[test]
    fn a_second_cache_reads_what_the_first_wrote_and_memory_serves_repeats() {
        let tmp = tempfile::tempdir().unwrap();
        let engine = engine(true);
        let first = ArtifactCache::open(&engine, &config(tmp.path()));
        assert_eq!(first.load(EMPTY, compile(&engine)).unwrap().source, Source::Compiled);
        assert_eq!(first.load(EMPTY, |_| panic!("not compiled again")).unwrap().source, Source::Memory);
        let files = artifacts(tmp.path());
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].file_name().unwrap().to_str().unwrap(), format!("{}.cwasm", hex(&sha256(EMPTY))));
        assert_eq!(files[0].parent().unwrap().file_name().unwrap().to_str().unwrap(), first.fingerprint_hex());
        let second = ArtifactCache::open(&engine, &config(tmp.path()));
        assert_eq!(second.load(EMPTY, |_| panic!("read from disk")).unwrap().source, Source::Disk);
    }

    #[test]
    fn every_flipped_byte_of_the_header_and_a_truncation_are_discarded() {
        let tmp = tempfile::tempdir().unwrap();
        let engine = engine(true);
        ArtifactCache::open(&engine, &config(tmp.path())).load(EMPTY, compile(&engine)).unwrap();
        let path = artifacts(tmp.path()).remove(0);
        let good = std::fs::read(&path).unwrap();
        let mut cases: Vec<Vec<u8>> = (0..HEADER_BYTES + 8)
            .map(|i| {
                let mut bad = good.clone();
                bad[i] ^= 0x01;
                bad
            })
            .collect();
        cases.push(good[..good.len() - 1].to_vec());
        cases.push(good[..HEADER_BYTES - 1].to_vec());
        for (i, bad) in cases.into_iter().enumerate() {
            std::fs::write(&path, &bad).unwrap();
            let cache = ArtifactCache::open(&engine, &config(tmp.path()));
            assert_eq!(cache.load(EMPTY, compile(&engine)).unwrap().source, Source::Compiled, "case {i}");
            assert_eq!(std::fs::read(&path).unwrap(), good, "case {i}: written again");
        }
    }

    #[test]
    fn a_key_file_others_can_read_is_refused_and_the_cache_is_off() {
        let tmp = tempfile::tempdir().unwrap();
        let engine = engine(true);
        let config = config(tmp.path());
        let key = config.key_file().unwrap();
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        std::fs::write(&key, "00".repeat(32)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
            let Err(KeyFile::Bad(why)) = read_key(&key) else { panic!("accepted") };
            assert!(why.contains("mode 644") && why.contains("chmod 600"), "{why}");
            let cache = ArtifactCache::open(&engine, &config);
            assert_eq!(cache.load(EMPTY, compile(&engine)).unwrap().source, Source::Compiled);
            assert!(!tmp.path().join("artifacts").exists(), "nothing written without a usable key");
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(read_key(&key).is_ok());
        std::fs::write(&key, "not hex").unwrap();
        let Err(KeyFile::Bad(why)) = read_key(&key) else { panic!("accepted") };
        assert!(why.contains("64 hex digits"), "{why}");
    }

    #[test]
    fn a_new_key_is_private_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("deep/state/cache.key");
        create_key(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // A second creation (another process that also found none) keeps the first.
        create_key(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers, [std::ffi::OsString::from("cache.key")]);
    }

    #[test]
    fn a_key_file_inside_the_cache_directory_turns_the_cache_off() {
        let tmp = tempfile::tempdir().unwrap();
        let engine = engine(true);
        let config = CacheConfig { enabled: true, dir: Some(tmp.path().into()), key_file: Some(tmp.path().join("k/cache.key")) };
        let cache = ArtifactCache::open(&engine, &config);
        assert_eq!(cache.load(EMPTY, compile(&engine)).unwrap().source, Source::Compiled);
        assert!(!config.key_file().unwrap().exists());
    }
}
