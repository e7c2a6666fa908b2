//! Hot-loading through the listeners folder: a module dropped in is loaded, a changed one is
//! swapped in, a broken one leaves the old version serving, a removed one is unloaded.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokenwatch::serve::watch::{FolderWatch, Template};
use tokenwatch::{Config, Health, Host, ListenerConfig, ListenerStatus, Outcome};
use tokenwatch_tests::*;

/// Wait (at most 20 s) until `f` holds of the status of `name`.
fn until(host: &Host, name: &str, what: &str, f: impl Fn(Option<&ListenerStatus>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = host.status();
        let s = status.iter().find(|s| s.name == name);
        if f(s) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {s:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_listeners_folder_is_hot_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Host::builder(Config::default()).log_sink(Recorder::new()).build().unwrap());
    let template: Template = Arc::new(|path: &Path| ListenerConfig::new(path).with_property("mode", "record"));
    let _watch = FolderWatch::start(host.clone(), dir.path(), template).unwrap();
    let module = dir.path().join("p.wasm");
    let probe = std::fs::read(guest("probe")).unwrap();

    deploy(&probe, &module);
    until(&host, "p", "a new module is loaded", |s| s.is_some_and(|s| s.health == Health::Active && s.version == 1));
    assert_eq!(host.dispatch(&id_token("alice"))[0].outcome, Outcome::Ok);

    // A half-written module (a truncated file) is refused; the old version keeps serving.
    std::fs::write(&module, &probe[..probe.len() / 2]).unwrap();
    until(&host, "p", "a broken module is refused", |s| s.is_some_and(|s| s.reload_error.is_some()));
    let s = host.status().into_iter().find(|s| s.name == "p").unwrap();
    assert_eq!((s.version, s.health), (1, Health::Active));
    assert_eq!(host.dispatch(&id_token("bob"))[0].outcome, Outcome::Ok);

    // A different module under the same name is swapped in.
    deploy(&std::fs::read(guest("sign-in-audit")).unwrap(), &module);
    until(&host, "p", "a changed module is swapped in", |s| s.is_some_and(|s| s.version == 2 && s.reload_error.is_none()));
    assert_eq!(host.dispatch(&id_token("carol"))[0].outcome, Outcome::Ok);

    std::fs::remove_file(&module).unwrap();
    until(&host, "p", "a removed module is unloaded", |s| s.is_none());
    assert!(host.dispatch(&id_token("dave")).is_empty());
    host.shutdown();
}

#[test]
fn a_folder_module_does_not_replace_a_configured_listener_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    let configured = listener("p", "probe").with_property("mode", "record");
    let host = Arc::new(Host::builder(Config::default().with_listener(configured)).log_sink(Recorder::new()).build().unwrap());
    let template: Template = Arc::new(|path: &Path| ListenerConfig::new(path));
    let _watch = FolderWatch::start(host.clone(), dir.path(), template).unwrap();
    deploy(&std::fs::read(guest("sign-in-audit")).unwrap(), &dir.path().join("p.wasm"));
    deploy(&std::fs::read(guest("metering")).unwrap(), &dir.path().join("m.wasm"));
    // The other module of the folder is loaded, so the folder's p.wasm has been looked at too.
    until(&host, "m", "the folder's other module is loaded", |s| s.is_some_and(|s| s.health == Health::Active));
    std::thread::sleep(Duration::from_millis(600));
    let p = host.status().into_iter().find(|s| s.name == "p").unwrap();
    assert_eq!((p.version, p.path), (1, guest("probe")), "the configured listener stays");
    host.shutdown();
}

#[test]
fn a_module_that_never_loaded_leaves_no_status_once_removed() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Host::builder(Config::default()).log_sink(Recorder::new()).build().unwrap());
    let template: Template = Arc::new(|path: &Path| ListenerConfig::new(path));
    let _watch = FolderWatch::start(host.clone(), dir.path(), template).unwrap();
    let module = dir.path().join("broken.wasm");
    deploy(b"not a component", &module);
    until(&host, "broken", "a broken new module shows as load-failed", |s| s.is_some_and(|s| matches!(s.health, Health::LoadFailed(_))));
    std::fs::remove_file(&module).unwrap();
    until(&host, "broken", "its status goes with the file", |s| s.is_none());
    assert!(host.status().is_empty());
    host.shutdown();
}
