//! Hot-loading: the listeners folder is watched (the `notify` crate: inotify on Linux), and a
//! new, changed or removed `*.wasm` becomes a [`Host::load_listener`] or
//! [`Host::remove_listener`] — compiled, checked and started off the dispatch path, swapped
//! in only when all of that succeeded.
//!
//! A half-written file is never loaded:
//! - changes are **debounced**: a file is looked at only once no event has come for it for
//!   `SETTLE` (rapid writes to one file make one reload);
//! - then it must be **settled**: its size and modification time unchanged across `SETTLE`;
//! - and a module that still fails to compile or validate is refused with the old version
//!   left serving (the next write tries again).
//!
//! Writing the new module elsewhere and renaming it into the folder (`mv` on one file
//! system) is atomic and the safest way to deploy; a module whose bytes equal the running
//! version's is not reloaded.
//!
//! [`FileWatch`] watches one file the same way (debounced and settled): `serve`'s config
//! file, whose changes [`super::reload::ConfigReload`] applies.

use crate::config::ListenerConfig;
use crate::dispatch::host::Host;
use notify::{RecursiveMode, Watcher as _};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How long a file must be left alone before it is loaded.
pub const SETTLE: Duration = Duration::from_millis(250);

/// Turns a module's path into its listener's configuration (named after the file).
pub type Template = Arc<dyn Fn(&Path) -> ListenerConfig + Send + Sync>;

/// Watches a listeners folder while it lives.
pub struct FolderWatch {
    _watcher: notify::RecommendedWatcher,
    dir: PathBuf,
    host: Arc<Host>,
    template: Template,
}

impl FolderWatch {
    /// Watch `dir`: what changes in it from now on is loaded into `host`.
    pub fn start(host: Arc<Host>, dir: &Path, template: Template) -> Result<FolderWatch, String> {
        let (h, d, t) = (host.clone(), dir.to_path_buf(), template.clone());
        let wanted = {
            let d = d.clone();
            move |p: &Path| is_module(p) && p.parent() == Some(d.as_path())
        };
        let watcher = watch_settled(dir, "the listeners folder", wanted, move |path| apply(&h, path, &t))?;
        Ok(FolderWatch { _watcher: watcher, dir: d, host, template })
    }

    /// Load every module of the folder that is new or changed and remove the listeners whose
    /// module is gone (SIGHUP).
    pub fn rescan(&self) {
        let mut paths = modules(&self.dir);
        for s in self.host.status() {
            if s.path.parent() == Some(self.dir.as_path()) && !paths.contains(&s.path) {
                paths.push(s.path);
            }
        }
        for path in paths {
            apply(&self.host, &path, &self.template);
        }
    }
}

/// The `*.wasm` files of `dir`, sorted.
pub fn modules(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| is_module(p)).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

fn is_module(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm")
}

/// Watches one file while it lives: each time the file is written, replaced (an editor's
/// rename into place), created or removed, and then left alone (debounced and settled as
/// the folder's modules are), `changed` runs on the watcher's thread.
pub struct FileWatch {
    _watcher: notify::RecommendedWatcher,
}

impl FileWatch {
    /// Watch `file` through its directory (a rename over the file replaces the inode a
    /// watch on the file itself would follow), picking its events out by name.
    pub fn start(file: &Path, what: &'static str, mut changed: impl FnMut() + Send + 'static) -> Result<FileWatch, String> {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = file.file_name().ok_or_else(|| format!("cannot watch {}: not a file name", file.display()))?.to_owned();
        let watcher = watch_settled(dir, what, move |p: &Path| p.file_name() == Some(name.as_os_str()), move |_| changed())?;
        Ok(FileWatch { _watcher: watcher })
    }
}

/// Watch `dir` (not its subfolders) and run `act` on each path `wanted` picks, once it has
/// been debounced and settled, on a thread of its own that ends with the watcher.
fn watch_settled(
    dir: &Path,
    what: &'static str,
    wanted: impl Fn(&Path) -> bool + Send + 'static,
    act: impl FnMut(&Path) + Send + 'static,
) -> Result<notify::RecommendedWatcher, String> {
    let (tx, rx) = channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = tx.send(event);
    })
    .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    watcher.watch(dir, RecursiveMode::NonRecursive).map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    let d = dir.to_path_buf();
    std::thread::Builder::new()
        .name("tokenwatch-watch".into())
        .spawn(move || debounce(rx, &d, what, wanted, act))
        .map_err(|e| format!("cannot start the watcher thread: {e}"))?;
    Ok(watcher)
}

/// Collect events until each wanted path has been quiet for `SETTLE`, then act on it.
fn debounce(
    rx: Receiver<notify::Result<notify::Event>>,
    dir: &Path,
    what: &str,
    wanted: impl Fn(&Path) -> bool,
    mut act: impl FnMut(&Path),
) {
    let mut pending: BTreeMap<PathBuf, Instant> = BTreeMap::new();
    loop {
        let wait = pending.values().min().map_or(Duration::from_secs(3600), |t| (*t + SETTLE).saturating_duration_since(Instant::now()));
        match rx.recv_timeout(wait) {
            // Opening and reading a file (ours, when we act on it) is no change: acting on
            // it would read the file again, and again.
            Ok(Ok(event)) if is_read(&event.kind) => {}
            Ok(Ok(event)) => {
                for path in event.paths.into_iter().filter(|p| wanted(p)) {
                    pending.insert(path, Instant::now());
                }
            }
            Ok(Err(e)) => tracing::warn!(dir = %dir.display(), "watching {what}: {e}"),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return, // the watcher was dropped
        }
        let now = Instant::now();
        let due: Vec<PathBuf> = pending.iter().filter(|(_, t)| now >= **t + SETTLE).map(|(p, _)| p.clone()).collect();
        for path in due {
            pending.remove(&path);
            if !settled(&path) {
                pending.insert(path, Instant::now()); // still being written: look again later
                continue;
            }
            act(&path);
        }
    }
}

/// An access that changes nothing: an open, a read, a close after reading (inotify reports
/// them; a close after writing is kept).
fn is_read(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    matches!(kind, notify::EventKind::Access(a) if *a != AccessKind::Close(AccessMode::Write))
}

/// Size and modification time unchanged across `SETTLE` (a file that is gone is settled).
fn settled(path: &Path) -> bool {
    let look = || std::fs::metadata(path).ok().map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
    let before = look();
    std::thread::sleep(SETTLE);
    before == look()
}

/// Load, reload or remove the listener of `path` after it changed.
fn apply(host: &Host, path: &Path, template: &Template) {
    let config = template(path);
    let name = config.name();
    let running = host.status().into_iter().find(|s| s.name == name);
    // A listener of this name from elsewhere (a `[[listener]]` of the config) is not the
    // folder's to replace or remove.
    if running.as_ref().is_some_and(|s| s.path != path) {
        tracing::warn!(listener = %name, file = %path.display(), "ignored: a listener of this name is loaded from another file");
        return;
    }
    if !path.exists() {
        if running.is_some() {
            if let Err(e) = host.remove_listener(&name) {
                tracing::warn!(listener = %name, "cannot remove: {e}");
            }
        }
        return;
    }
    if let (Some(running), Ok(bytes)) = (&running, std::fs::read(path)) {
        if running.module_sha256 == crate::runtime::cache::hex(&crate::runtime::cache::sha256(&bytes)) {
            return; // the same module: nothing to do
        }
    }
    // Success and failure are logged by the host, with the reason.
    let _ = host.load_listener(config);
}
