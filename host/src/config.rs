//! The TOML configuration file. Unknown keys are errors; every default is documented in the
//! README's "Configuration" section.

use crate::limits::LimitsConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Limits for every listener (`[limits]`); a listener's own `[listener.limits]` wins.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The listeners (`[[listener]]`), called in this order.
    #[serde(default, rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    /// SET signing (`[signing]`: `key_file`, `kid`, `issuer`, ...; see
    /// `signing::SigningConfig`). Without it, `sign-set` answers `no-key-configured`.
    #[serde(default)]
    pub signing: Option<crate::signing::SigningConfig>,
}

/// One `[[listener]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// The listener's name in logs, status and metrics. Default: the module's file name
    /// without `.wasm`.
    #[serde(default)]
    pub name: Option<String>,
    /// The component file; relative paths are relative to the config file.
    pub path: PathBuf,
    /// `false` loads and validates the module but never calls it (the SPI's `isEnabled`
    /// controlled by configuration). Default `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Properties handed to `init` and readable through the `config` import.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Per-listener limits over `[limits]`.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Grant WASI preview 2 (deny-by-default: no files, network, environment or args).
    /// Default `false`: a module importing `wasi:*` is rejected.
    #[serde(default)]
    pub wasi: bool,
    /// The audiences this listener's SETs may carry (`aud`); the guest picks one of them or
    /// gets all, and can never name its own. Default: none (SETs without `aud`).
    #[serde(default)]
    pub set_audiences: Vec<String>,
    /// `sign-set` calls allowed per call into this listener (signed or refused); more get
    /// `quota-exceeded`. Default 16; 0 forbids signing.
    #[serde(default)]
    pub max_signatures_per_call: Option<u32>,
}

fn yes() -> bool {
    true
}

impl ListenerConfig {
    /// This listener's SET signing policy (audiences, quota).
    pub fn set_policy(&self) -> crate::signing::SetPolicy {
        crate::signing::SetPolicy {
            audiences: self.set_audiences.clone(),
            max_signatures_per_call: self
                .max_signatures_per_call
                .unwrap_or(crate::signing::DEFAULT_MAX_SIGNATURES_PER_CALL),
        }
    }

    /// A listener for the module at `path`, with every default.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ListenerConfig {
            name: None,
            path: path.into(),
            enabled: true,
            properties: BTreeMap::new(),
            limits: LimitsConfig::default(),
            wasi: false,
            set_audiences: Vec::new(),
            max_signatures_per_call: None,
        }
    }

    /// The configured name, or the module's file name without `.wasm`.
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.path.display().to_string())
        })
    }
}

/// A configuration problem, naming the file and the place in it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Read and validate a config file. Relative listener paths are resolved against the
    /// file's directory.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_toml(&text, base)
            .map_err(|e| ConfigError(format!("config {}: {}", path.display(), e.0)))
    }

    /// Parse and validate TOML text; relative listener paths are resolved against `base`.
    pub fn from_toml(text: &str, base: &Path) -> Result<Config, ConfigError> {
        let mut config: Config =
            toml::from_str(text).map_err(|e| ConfigError(e.to_string().trim_end().to_owned()))?;
        for l in &mut config.listeners {
            if l.path.is_relative() {
                l.path = base.join(&l.path);
            }
        }
        if let Some(signing) = &mut config.signing {
            signing.resolve(base);
        }
        config.validate()?;
        Ok(config)
    }

    /// Check what serde cannot: limits in range, listener names unique.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.limits.validate("[limits]").map_err(ConfigError)?;
        if let Some(signing) = &self.signing {
            signing.validate().map_err(ConfigError)?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for l in &self.listeners {
            let name = l.name();
            if name.is_empty() {
                return Err(ConfigError(format!(
                    "listener at {}: the name is empty",
                    l.path.display()
                )));
            }
            if !seen.insert(name.clone()) {
                return Err(ConfigError(format!(
                    "two listeners are named {name:?}: give one of them another `name`"
                )));
            }
            l.limits
                .validate(&format!("listener {name:?} [listener.limits]"))
                .map_err(ConfigError)?;
            if l.set_audiences.iter().any(|a| a.is_empty()) {
                return Err(ConfigError(format!("listener {name:?}: set_audiences holds an empty string")));
            }
        }
        Ok(())
    }

    /// Apply `LISTENER.KEY=VALUE` (the `--property` option).
    pub fn set_property(&mut self, spec: &str) -> Result<(), ConfigError> {
        let bad = || {
            ConfigError(format!(
                "--property {spec:?}: expected LISTENER.KEY=VALUE"
            ))
        };
        let (target, value) = spec.split_once('=').ok_or_else(bad)?;
        let (first, _) = target.split_once('.').ok_or_else(bad)?;
        if first.is_empty() {
            return Err(bad());
        }
        let names: Vec<String> = self.listeners.iter().map(ListenerConfig::name).collect();
        // The longest listener name followed by `.`, so a name may itself contain dots.
        let found = names
            .iter()
            .enumerate()
            .filter_map(|(i, name)| Some((i, target.strip_prefix(name.as_str())?.strip_prefix('.')?)))
            .filter(|(_, key)| !key.is_empty())
            .max_by_key(|(i, _)| names[*i].len());
        let (index, key) = found.ok_or_else(|| {
            ConfigError(format!(
                "--property {spec:?}: no listener named {first:?} (listeners: {})",
                names.join(", ")
            ))
        })?;
        let l = &mut self.listeners[index];
        l.properties.insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listeners_with_defaults_and_resolves_paths() {
        let c = Config::from_toml(
            r#"
            [limits]
            fuel = 1000
            [[listener]]
            path = "audit.wasm"
            [[listener]]
            name = "meter"
            path = "/abs/metering.wasm"
            enabled = false
            properties = { report_every = "10" }
            limits = { deadline_ms = 5 }
            "#,
            Path::new("/etc/tw"),
        )
        .unwrap();
        assert_eq!(c.limits.fuel, Some(1000));
        assert_eq!(c.listeners[0].name(), "audit");
        assert_eq!(c.listeners[0].path, Path::new("/etc/tw/audit.wasm"));
        assert!(c.listeners[0].enabled && !c.listeners[0].wasi);
        assert_eq!(c.listeners[1].name(), "meter");
        assert!(!c.listeners[1].enabled);
        assert_eq!(c.listeners[1].limits.deadline_ms, Some(5));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_the_place() {
        let err = Config::from_toml("[[listener]]\npath = \"a.wasm\"\nfuel = 1\n", Path::new("."))
            .unwrap_err();
        assert!(err.0.contains("unknown field `fuel`"), "{err}");
        let err = Config::from_toml("[limits]\nfuel = 0\n", Path::new(".")).unwrap_err();
        assert!(err.0.contains("[limits]: fuel"), "{err}");
        let err = Config::from_toml(
            "[[listener]]\npath = \"a.wasm\"\n[[listener]]\npath = \"b/a.wasm\"\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.0.contains("two listeners are named \"a\""), "{err}");
    }

    #[test]
    fn property_overrides_name_the_listener() {
        let mut c = Config::default();
        c.listeners.push(ListenerConfig::new("x/audit.wasm"));
        c.set_property("audit.level=debug").unwrap();
        assert_eq!(c.listeners[0].properties["level"], "debug");
        assert!(c.set_property("nope.k=v").unwrap_err().0.contains("no listener named"));
        assert!(c.set_property("audit=v").unwrap_err().0.contains("LISTENER.KEY=VALUE"));
        assert!(c.set_property("audit.=v").unwrap_err().0.contains("no listener named"));
    }

    #[test]
    fn property_overrides_reach_listeners_with_dots_in_their_names() {
        let mut c = Config::default();
        c.listeners.push(ListenerConfig::new("x/audit.wasm"));
        c.listeners.push(ListenerConfig::new("x/audit.v2.wasm"));
        c.set_property("audit.v2.mode=fast").unwrap();
        c.set_property("audit.v3=yes").unwrap();
        assert_eq!(c.listeners[1].properties["mode"], "fast");
        assert_eq!(c.listeners[0].properties["v3"], "yes");
        assert!(!c.listeners[0].properties.contains_key("v2.mode"));
    }
}
