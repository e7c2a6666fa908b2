//! The artifact cache (`[cache]`): a second start loads verified artifacts instead of
//! compiling; a corrupt, tampered, foreign or misplaced artifact is discarded and recompiled,
//! never loaded; identical modules are compiled once; a cache that cannot be used stops
//! nothing. Every test has its own cache directory and key file.

use std::path::{Path, PathBuf};
use tokenwatch::{Config, ConfigErrorKind, Host, ListenerConfig, Outcome};
use tokenwatch_tests::*;

/// A cache directory and a key file, outside it, in a temporary folder.
struct Place {
    tmp: tempfile::TempDir,
}

impl Place {
    fn new() -> Place {
        Place { tmp: tempfile::tempdir().unwrap() }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("cache/artifacts")
    }

    fn key_file(&self) -> PathBuf {
        self.tmp.path().join("state/cache.key")
    }

    fn config(&self, listeners: Vec<ListenerConfig>) -> Config {
        let mut config = Config { listeners, ..Config::default() };
        config.cache.dir = Some(self.dir());
        config.cache.key_file = Some(self.key_file());
        config
    }

    /// Every artifact, as `<fingerprint>/<module sha256>.cwasm` paths.
    fn artifacts(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for folder in std::fs::read_dir(self.dir()).into_iter().flatten().flatten() {
            for file in std::fs::read_dir(folder.path()).unwrap().flatten() {
                if file.path().extension().is_some_and(|e| e == "cwasm") {
                    found.push(file.path());
                }
            }
        }
        found.sort();
        found
    }

    /// The one artifact there is.
    fn artifact(&self) -> PathBuf {
        let all = self.artifacts();
        assert_eq!(all.len(), 1, "{all:?}");
        all.into_iter().next().unwrap()
    }
}

/// Build a host over `config` (epoch-only when asked) and what the host logged while it was
/// built, at `info` and above.
fn build(config: Config, epoch_only: bool) -> (Host, String) {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let host = tracing::subscriber::with_default(subscriber, || {
        let mut builder = Host::builder(config).log_sink(Recorder::new());
        if epoch_only {
            builder = builder.epoch_only();
        }
        builder.build().expect("host builds")
    });
    (host, buffer.text())
}

fn from_cache(host: &Host) -> Vec<bool> {
    host.status().iter().map(|s| s.from_cache).collect()
}

/// The host's listeners all handle an ID token.
fn works(host: &Host) {
    for d in host.dispatch(&id_token("alice")) {
        assert_eq!(d.outcome, Outcome::Ok, "{d:?}");
    }
}

fn audit(place: &Place) -> Config {
    place.config(vec![listener("audit", "sign-in-audit")])
}

const TAMPERED: &str = "failed its integrity check";

#[test]
fn a_second_start_loads_the_artifact_instead_of_compiling() {
    let place = Place::new();
    let (first, log) = build(audit(&place), false);
    assert_eq!(from_cache(&first), [false]);
    assert!(log.contains("compile") && !log.contains("loaded from the artifact cache"), "{log}");
    works(&first);
    drop(first);
    let artifact = place.artifact();
    assert!(!artifact.starts_with(place.key_file().parent().unwrap()));
    let (second, log) = build(audit(&place), false);
    assert_eq!(from_cache(&second), [true]);
    assert!(log.contains("loaded from the artifact cache") && log.contains("listener=audit"), "{log}");
    assert!(!log.contains("WARN"), "{log}");
    works(&second);
    assert_eq!(place.artifacts(), [artifact], "nothing new written");
}

#[test]
fn a_flipped_byte_is_detected_discarded_and_recompiled() {
    let place = Place::new();
    drop(build(audit(&place), false));
    let path = place.artifact();
    let good = std::fs::read(&path).unwrap();
    // A byte in the middle of the code, then one in the header's tag.
    for at in [good.len() / 2, 20] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        let (host, log) = build(audit(&place), false);
        assert_eq!(from_cache(&host), [false], "byte {at}");
        assert!(log.contains(TAMPERED) && log.contains("discarded, compiling"), "byte {at}: {log}");
        works(&host);
        assert_eq!(std::fs::read(&path).unwrap(), good, "byte {at}: the artifact is written again");
    }
    let (host, _) = build(audit(&place), false);
    assert_eq!(from_cache(&host), [true], "the rewritten artifact is used");
}

#[test]
fn a_truncated_artifact_is_discarded() {
    let place = Place::new();
    drop(build(audit(&place), false));
    let path = place.artifact();
    let good = std::fs::read(&path).unwrap();
    for len in [0, 10, good.len() - 1] {
        std::fs::write(&path, &good[..len]).unwrap();
        let (host, log) = build(audit(&place), false);
        assert_eq!(from_cache(&host), [false], "{len} bytes");
        assert!(log.contains("discarded, compiling"), "{len} bytes: {log}");
        works(&host);
    }
}

#[test]
fn an_artifact_of_another_engine_configuration_is_not_used() {
    let place = Place::new();
    // Written by the epoch-only engine (no fuel: other code), then not used by the fueled one.
    let (epoch, _) = build(audit(&place), true);
    assert_eq!(from_cache(&epoch), [false]);
    drop(epoch);
    let epoch_artifact = place.artifact();
    let (fueled, log) = build(audit(&place), false);
    assert_eq!(from_cache(&fueled), [false], "{log}");
    assert!(!log.contains(TAMPERED), "another engine looks in another folder: {log}");
    works(&fueled);
    drop(fueled);
    let both = place.artifacts();
    assert_eq!(both.len(), 2, "one folder per engine fingerprint: {both:?}");
    assert_eq!(both[0].file_name(), both[1].file_name(), "same module");
    assert_ne!(both[0].parent(), both[1].parent());
    // The fueled engine's artifact moved into the epoch-only engine's folder: its tag covers
    // the fingerprint, so it is refused before wasmtime sees it.
    let fueled_artifact = both.iter().find(|p| **p != epoch_artifact).unwrap();
    std::fs::copy(fueled_artifact, &epoch_artifact).unwrap();
    let (epoch, log) = build(audit(&place), true);
    assert_eq!(from_cache(&epoch), [false]);
    assert!(log.contains(TAMPERED), "{log}");
    works(&epoch);
}

#[test]
fn an_artifact_under_another_modules_name_is_not_used() {
    let place = Place::new();
    drop(build(place.config(vec![listener("audit", "sign-in-audit"), listener("meter", "metering")]), false));
    let all = place.artifacts();
    assert_eq!(all.len(), 2);
    // The metering artifact under the audit module's name (and the other way round).
    let (a, b) = (std::fs::read(&all[0]).unwrap(), std::fs::read(&all[1]).unwrap());
    std::fs::write(&all[0], &b).unwrap();
    std::fs::write(&all[1], &a).unwrap();
    let (host, log) = build(place.config(vec![listener("audit", "sign-in-audit"), listener("meter", "metering")]), false);
    assert_eq!(from_cache(&host), [false, false]);
    assert_eq!(log.matches(TAMPERED).count(), 2, "{log}");
    let d = host.dispatch(&access_token("bob", "c1", "openid"));
    assert_eq!((&d[0].outcome, &d[1].outcome), (&Outcome::Skipped, &Outcome::Ok), "{d:?}");
}

#[test]
fn another_installations_key_makes_the_artifacts_count_as_tampered() {
    let place = Place::new();
    drop(build(audit(&place), false));
    let key = std::fs::read_to_string(place.key_file()).unwrap();
    assert_eq!(key.trim().len(), 64, "32 bytes as hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(place.key_file()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the owner's only");
    }
    // Another installation's secret, same cache directory.
    let other = Place::new();
    let mut config = audit(&place);
    config.cache.key_file = Some(other.key_file());
    let (host, log) = build(config, false);
    assert_eq!(from_cache(&host), [false]);
    assert!(log.contains(TAMPERED), "{log}");
    works(&host);
    drop(host);
    // Rewritten under the other key: the original key now refuses it.
    let (host, log) = build(audit(&place), false);
    assert_eq!(from_cache(&host), [false]);
    assert!(log.contains(TAMPERED), "{log}");
}

#[test]
fn identical_modules_under_two_names_are_compiled_once() {
    for enabled in [true, false] {
        let place = Place::new();
        let mut config = place.config(vec![probe("one", "record"), probe("two", "noop"), listener("audit", "sign-in-audit")]);
        config.cache.enabled = enabled;
        let (host, log) = build(config, false);
        assert_eq!(from_cache(&host), [false, true, false], "cache enabled: {enabled}");
        assert_eq!(log.matches("reused the component of an earlier listener").count(), 1, "{log}");
        assert!(log.contains("listener=two"), "{log}");
        assert_eq!(place.artifacts().len(), if enabled { 2 } else { 0 });
        let d = host.dispatch(&id_token("alice"));
        assert!(d.iter().all(|d| d.outcome == Outcome::Ok), "{d:?}");
    }
}

#[test]
fn a_cache_that_cannot_be_used_warns_and_the_listener_loads() {
    let place = Place::new();
    // The cache directory cannot be created: a file is in the way.
    std::fs::create_dir_all(place.tmp.path().join("cache")).unwrap();
    std::fs::write(place.tmp.path().join("cache/artifacts"), "a file").unwrap();
    let (host, log) = build(audit(&place), false);
    assert_eq!(from_cache(&host), [false]);
    assert!(log.contains("artifact cache off: cannot create"), "{log}");
    works(&host);

    // A key file others can read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let place = Place::new();
        drop(build(audit(&place), false));
        std::fs::set_permissions(place.key_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let (host, log) = build(audit(&place), false);
        assert_eq!(from_cache(&host), [false]);
        assert!(log.contains("artifact cache off") && log.contains("chmod 600"), "{log}");
        works(&host);
    }
}

#[test]
fn the_cache_table_resolves_paths_and_refuses_unknown_keys_and_a_key_inside_the_cache() {
    let base = Path::new("/etc/tw");
    let c = Config::from_toml("[cache]\ndir = \"artifacts\"\nkey_file = \"/var/lib/tw/cache.key\"\n", base).unwrap();
    assert!(c.cache.enabled);
    assert_eq!(c.cache.dir.as_deref(), Some(Path::new("/etc/tw/artifacts")));
    assert_eq!(c.cache.key_file.as_deref(), Some(Path::new("/var/lib/tw/cache.key")));
    let c = Config::from_toml("[cache]\nenabled = false\n", base).unwrap();
    assert!(!c.cache.enabled);
    let e = Config::from_toml("[cache]\nsize_mb = 10\n", base).unwrap_err();
    assert_eq!((e.kind(), e.key()), (ConfigErrorKind::Syntax, Some("size_mb")));
    let e = Config::from_toml("[cache]\ndir = \"c\"\nkey_file = \"c/cache.key\"\n", base).unwrap_err();
    assert_eq!((e.kind(), e.place(), e.key()), (ConfigErrorKind::Invalid, Some("[cache]"), Some("key_file")));
    assert!(e.message().contains("inside the cache directory"), "{e}");
}
