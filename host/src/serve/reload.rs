//! Reloading `serve`'s config file while it runs: when the file changes (a
//! [`FileWatch`](super::watch::FileWatch)), on SIGHUP and on `POST /v1/config/reload`.
//!
//! The file is read, parsed and checked as at start (the same `ConfigError`, naming the file,
//! the table and the key; the same clash check against the listeners folder). A config that
//! fails is refused as a whole: everything keeps running as it is, the reason is logged and
//! kept (`GET /v1/config`, `tokenwatch_config_reload_errors_total`).
//!
//! A config that passes is applied as a difference to the running [`Host`]:
//! - `[[listener]]` tables added are loaded, removed ones drained and unloaded, changed ones
//!   (any key, or `[limits]` under them) reloaded as a new version ([`Host::load_listener`],
//!   the zero-loss swap); a listener that fails to load keeps its running version (or stays
//!   out) and is tried again at the next reload;
//! - `[limits]` applies to the `[[listener]]` listeners at once (those whose limits change are
//!   reloaded) and to folder modules at their next load;
//! - the tables the host and the server hold from start (`[http]`, `[serve]`, `[dispatch]`,
//!   `[outbox]`, `[[sink]]`, `[signing]`, `[cache]`) keep their running values: each that
//!   differs is a warning that it takes effect at the next restart.
//!
//! Listeners from the listeners folder are not the config's: a reload neither reloads nor
//! removes them. A `[[listener]]` named like one of them is the clash it is at start.

use crate::config::{Config, ListenerConfig};
use crate::dispatch::host::{Host, ReloadError};
use crate::runtime::limits::{Limits, LimitsConfig};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What `serve`'s command line puts over the config file, at start and at every reload.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--listen`: `[http] address`.
    pub listen: Option<String>,
    /// `--listeners`: `[serve] listeners_dir`.
    pub listeners_dir: Option<PathBuf>,
    /// `--admin-token-file`: `[http] admin_token_file` (and no `admin_token_env`).
    pub admin_token_file: Option<PathBuf>,
}

impl Overrides {
    /// Put the options over `config`.
    pub fn apply(&self, config: &mut Config) {
        if self.listen.is_some() {
            config.http.address = self.listen.clone();
        }
        if self.listeners_dir.is_some() {
            config.serve.listeners_dir = self.listeners_dir.clone();
        }
        if self.admin_token_file.is_some() {
            config.http.admin_token_file = self.admin_token_file.clone();
            config.http.admin_token_env = None;
        }
    }

    /// Where the listeners folder comes from, for errors: `--listeners "DIR"` or `[serve]`.
    pub fn place(&self) -> String {
        match &self.listeners_dir {
            Some(dir) => format!("--listeners {:?}", dir.display().to_string()),
            None => "[serve]".to_owned(),
        }
    }
}

/// The config file `serve` runs from: watched and reloaded while serving.
#[derive(Debug)]
pub struct ConfigFile {
    /// The file (`--config`).
    pub path: PathBuf,
    /// The command-line options put over it.
    pub overrides: Overrides,
    /// The config the host was built from: the file with the overrides, before the
    /// listeners folder was added.
    pub running: Config,
}

/// What `GET /v1/config` answers: the config file and how its reloads went.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ConfigStatus {
    /// The config file.
    pub file: PathBuf,
    /// Reloads applied (a config that parsed and checked; listener failures included).
    pub reloads: u64,
    /// Reloads refused: the file could not be read, parsed or checked.
    pub reload_errors: u64,
    /// Why the last refused reload was refused (file, place and reason); `null` once a
    /// later reload is applied.
    pub last_error: Option<String>,
    /// The tables of the file that differ from the running ones and take effect at the next
    /// restart (`[http]`, `[dispatch]`, ...).
    pub restart_pending: Vec<String>,
}

/// What one applied reload did, by listener name.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Applied {
    pub added: Vec<String>,
    pub reloaded: Vec<String>,
    pub removed: Vec<String>,
    /// Listeners whose new config could not be loaded, with why; the running version (if
    /// any) keeps serving, and the next reload tries again.
    pub failed: BTreeMap<String, String>,
    /// As in [`ConfigStatus`].
    pub restart_pending: Vec<String>,
}

/// Re-reads the config file and applies the difference to the host; one reload at a time.
pub struct ConfigReload {
    host: Arc<Host>,
    path: PathBuf,
    overrides: Overrides,
    /// What runs: the file's config as applied (restart-only tables as at start; each
    /// `[[listener]]` as the host runs it).
    running: Mutex<Config>,
    /// The `[limits]` running, for modules the listeners folder loads.
    limits: Arc<Mutex<LimitsConfig>>,
    status: Mutex<ConfigStatus>,
}

impl ConfigReload {
    pub fn new(host: Arc<Host>, file: ConfigFile) -> ConfigReload {
        let status = ConfigStatus { file: file.path.clone(), ..Default::default() };
        ConfigReload {
            host,
            path: file.path,
            overrides: file.overrides,
            limits: Arc::new(Mutex::new(file.running.limits.clone())),
            running: Mutex::new(file.running),
            status: Mutex::new(status),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn status(&self) -> ConfigStatus {
        self.status.lock().clone()
    }

    /// The configuration of a module the listeners folder loads: named after its file, with
    /// the running `[limits]`.
    pub fn folder_listener(&self, path: &Path) -> ListenerConfig {
        ListenerConfig::new(path).with_limits(resolved_limits(&LimitsConfig::default(), &self.limits.lock()))
    }

    /// Read the file again and apply it (see the module docs). `Err` is a refused config:
    /// nothing changed; the reason names the file and the place.
    pub fn reload(&self) -> Result<Applied, String> {
        let mut running = self.running.lock();
        match self.apply(&mut running) {
            Ok(applied) => {
                let mut status = self.status.lock();
                status.reloads += 1;
                status.last_error = None;
                status.restart_pending = applied.restart_pending.clone();
                tracing::info!(
                    file = %self.path.display(),
                    added = ?applied.added,
                    reloaded = ?applied.reloaded,
                    removed = ?applied.removed,
                    failed = ?applied.failed.keys().collect::<Vec<_>>(),
                    "config reloaded"
                );
                Ok(applied)
            }
            Err(why) => {
                tracing::error!(file = %self.path.display(), "config reload refused, the running config stays: {why}");
                let mut status = self.status.lock();
                status.reload_errors += 1;
                status.last_error = Some(why.clone());
                Err(why)
            }
        }
    }

    fn apply(&self, running: &mut Config) -> Result<Applied, String> {
        let mut new = Config::from_file(&self.path).map_err(|e| e.to_string())?;
        self.overrides.apply(&mut new);
        // What would run: the new file with the running restart-only tables, checked as at
        // start (the listeners folder added: a name clash is refused as it is at start).
        let mut next = new.clone();
        let mut restart_pending = Vec::new();
        macro_rules! keep {
            ($($field:ident => $table:literal),* $(,)?) => {$(
                if next.$field != running.$field {
                    restart_pending.push($table.to_owned());
                    next.$field = running.$field.clone();
                }
            )*};
        }
        keep!(http => "[http]", serve => "[serve]", dispatch => "[dispatch]", outbox => "[outbox]",
              sinks => "[[sink]]", signing => "[signing]", cache => "[cache]");
        if let Err(e) = super::expand_listeners(next.clone(), &self.overrides.place()) {
            // These errors name the place (the table, `--listeners`), not the file.
            let e = format!("config {}: {e}", self.path.display());
            return Err(match restart_pending.is_empty() {
                true => e,
                false => format!("{e} (checked against the running {}, which change only at a restart)", restart_pending.join(", ")),
            });
        }
        for table in &restart_pending {
            tracing::warn!(file = %self.path.display(), "{table} changed: it takes effect at the next restart; the running values stay");
        }

        let mut applied = Applied { restart_pending, ..Default::default() };
        let old: BTreeMap<String, ListenerConfig> =
            running.listeners.iter().map(|l| (l.name(), resolved(l, &running.limits))).collect();
        let mut now = Vec::new(); // the listeners running from the config after this reload
        for name in old.keys().filter(|n| !next.listeners.iter().any(|l| &l.name() == *n)) {
            match self.host.remove_listener(name) {
                Ok(()) | Err(ReloadError::UnknownListener(_)) => applied.removed.push(name.clone()),
                Err(e) => return Err(format!("config {}: stopped: {e}", self.path.display())),
            }
        }
        for l in &next.listeners {
            let name = l.name();
            let want = resolved(l, &next.limits);
            let had = old.get(&name);
            if had == Some(&want) {
                now.push(want);
                continue;
            }
            match self.host.load_listener(want.clone()) {
                Ok(_) => {
                    match had {
                        Some(_) => applied.reloaded.push(name),
                        None => applied.added.push(name),
                    }
                    now.push(want);
                }
                Err(ReloadError::ShutDown) => return Err(format!("config {}: not applied: the host is shutting down", self.path.display())),
                Err(e) => {
                    // Logged by the host; kept in the listener's status (`reload_error`).
                    applied.failed.insert(name, e.to_string());
                    now.extend(had.cloned());
                }
            }
        }
        *self.limits.lock() = next.limits.clone();
        next.listeners = now;
        *running = next;
        Ok(applied)
    }
}

/// `l` with every limit set: its own, else `global`'s, else the host default. Whatever the
/// host's defaults are, it runs with exactly these, and two listeners compare equal when
/// they run alike.
fn resolved(l: &ListenerConfig, global: &LimitsConfig) -> ListenerConfig {
    ListenerConfig { limits: resolved_limits(&l.limits, global), ..l.clone() }
}

fn resolved_limits(own: &LimitsConfig, global: &LimitsConfig) -> LimitsConfig {
    let l: Limits = own.over(&global.over(&Limits::default()));
    LimitsConfig {
        fuel: Some(l.fuel),
        deadline_ms: Some(l.deadline.as_millis() as u64),
        memory_mb: Some((l.memory_bytes >> 20) as u64),
        table_elements: Some(l.table_elements),
        max_consecutive_traps: Some(l.max_consecutive_traps),
        module_mb: Some((l.module_bytes >> 20) as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolved_limits_take_the_listener_s_then_the_table_s_then_the_default() {
        let own = LimitsConfig { fuel: Some(5), ..Default::default() };
        let global = LimitsConfig { fuel: Some(7), memory_mb: Some(128), ..Default::default() };
        let r = resolved_limits(&own, &global);
        assert_eq!((r.fuel, r.memory_mb, r.deadline_ms, r.module_mb), (Some(5), Some(128), Some(100), Some(64)));
        // Resolving again changes nothing, whatever the table: what the host runs is fixed.
        assert_eq!(resolved_limits(&r, &LimitsConfig { fuel: Some(9), ..Default::default() }), r);
        assert_eq!(r.over(&Limits::default()), own.over(&global.over(&Limits::default())));
    }
}
