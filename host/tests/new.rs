//! `tokenwatch new`: for every language, a project scaffolded into an empty directory builds
//! with its one command and passes `tokenwatch check` unmodified, on its sample events.

use std::path::Path;
use std::process::{Command, Output};

fn text(o: &Output) -> String {
    format!("status {:?}\n--- stdout\n{}--- stderr\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn run(command: &mut Command) -> Output {
    let o = command.output().unwrap();
    assert!(o.status.success(), "{command:?}: {}", text(&o));
    o
}

fn scaffold_build_check(lang: &str) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join(format!("{lang}-audit"));
    let name = format!("my-{lang}-audit");
    let tokenwatch = env!("CARGO_BIN_EXE_tokenwatch");
    let o = run(Command::new(tokenwatch).args(["new", "--lang", lang, &name]).arg(&project));
    assert!(String::from_utf8_lossy(&o.stdout).contains("./build.sh"), "{}", text(&o));
    // Build caches shared between runs (a fresh Rust build of the SDK takes a minute).
    let cache = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/tokenwatch/scaffold")).unwrap_or_else(|| dir.path().join("cache"));
    let o = run(Command::new(project.join("build.sh")).env("CARGO_TARGET_DIR", cache.join("rust-target")).env("npm_config_cache", cache.join("npm")));
    let built = project.join("dist").join(format!("{name}.wasm"));
    assert!(built.exists(), "{}", text(&o));
    let o = Command::new(tokenwatch).arg("check").arg(&built).args(["--events", "events.ndjson"]).current_dir(&project).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("verdict: pass"), "{}", text(&o));
    // Every event of the sample file was handled: nothing skipped by a missing handler.
    assert!(!out.contains("skipped") && !out.contains("trap"), "{out}");
}

#[test]
fn a_rust_project_builds_and_passes_check() {
    scaffold_build_check("rust");
}

#[test]
fn a_c_project_builds_and_passes_check() {
    scaffold_build_check("c");
}

#[test]
fn a_js_project_builds_and_passes_check() {
    scaffold_build_check("js");
}

#[test]
fn a_python_project_builds_and_passes_check() {
    scaffold_build_check("python");
}
