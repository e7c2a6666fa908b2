//! `tokenwatch new --lang LANG NAME [DIR]`: a listener project that builds with one command
//! and passes `tokenwatch check` unmodified.
//!
//! A project is a language's template (`guests/templates/LANG/`: the listener with every
//! lifecycle method and both handlers stubbed, `build.sh`, `events.ndjson`, `tokenwatch.toml`
//! with the language's recommended limits), its SDK as `sdk/` and the contract as
//! `wit/listener.wit`. All three are the repository's own files, built and tested there, and
//! compiled into the binary, so `new` needs nothing else.

use include_dir::{include_dir, Dir, DirEntry};
use std::path::{Path, PathBuf};

/// The contract every project builds against.
const WIT: &str = include_str!("../../../wit/listener.wit");

/// A language `new` scaffolds.
pub struct Lang {
    pub name: &'static str,
    template: Dir<'static>,
    sdk: Dir<'static>,
    /// Files and folders of the SDK that are the repository's tests, not the SDK.
    sdk_skip: &'static [&'static str],
}

/// The languages, in the order `--help` lists them.
pub static LANGS: &[Lang] = &[
    Lang {
        name: "rust",
        template: include_dir!("$CARGO_MANIFEST_DIR/../guests/templates/rust"),
        sdk: include_dir!("$CARGO_MANIFEST_DIR/../guests/sdk"),
        sdk_skip: &["compile-fail", "check.sh"],
    },
    Lang {
        name: "c",
        template: include_dir!("$CARGO_MANIFEST_DIR/../guests/templates/c"),
        sdk: include_dir!("$CARGO_MANIFEST_DIR/../guests/c/sdk"),
        sdk_skip: &["test"],
    },
    Lang {
        name: "js",
        template: include_dir!("$CARGO_MANIFEST_DIR/../guests/templates/js"),
        sdk: include_dir!("$CARGO_MANIFEST_DIR/../guests/js/sdk"),
        sdk_skip: &[],
    },
    Lang {
        name: "python",
        template: include_dir!("$CARGO_MANIFEST_DIR/../guests/templates/python"),
        sdk: include_dir!("$CARGO_MANIFEST_DIR/../guests/python/sdk"),
        sdk_skip: &["tests"],
    },
];

/// What `new` wrote: the project's directory and its files (relative to it).
#[derive(Debug)]
pub struct Scaffolded {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

/// Write the project for `name` in `lang` into `dir` (which must not exist or be empty).
pub fn scaffold(lang: &str, name: &str, dir: &Path) -> Result<Scaffolded, String> {
    let lang = LANGS.iter().find(|l| l.name == lang).ok_or_else(|| {
        format!("unknown language {lang:?}: choose one of {}", LANGS.iter().map(|l| l.name).collect::<Vec<_>>().join(", "))
    })?;
    check_name(name)?;
    if dir.exists() && std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?.next().is_some() {
        return Err(format!("{} exists and is not empty: name a new directory (the second argument)", dir.display()));
    }
    let mut files = Vec::new();
    let mut write = |relative: &Path, contents: &[u8]| -> Result<(), String> {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if relative.extension().is_some_and(|e| e == "sh") {
            make_executable(&path)?;
        }
        files.push(relative.to_owned());
        Ok(())
    };
    for file in all_files(&lang.template) {
        write(file.path(), &fill(file.contents(), name))?;
    }
    for file in all_files(&lang.sdk).filter(|f| !lang.sdk_skip.iter().any(|s| f.path().starts_with(s))) {
        write(&Path::new("sdk").join(file.path()), file.contents())?;
    }
    write(Path::new("wit/listener.wit"), WIT.as_bytes())?;
    Ok(Scaffolded { dir: dir.to_owned(), files })
}

/// A listener's name: also a package and file name in every language.
fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a listener name: use lowercase letters, digits and `-`, starting with a letter (at most 64), e.g. `sign-in-audit`"))
    }
}

/// `{{name}}` in a template file becomes the listener's name.
fn fill(contents: &[u8], name: &str) -> Vec<u8> {
    match std::str::from_utf8(contents) {
        Ok(text) => text.replace("{{name}}", name).into_bytes(),
        Err(_) => contents.to_vec(),
    }
}

fn all_files<'a>(dir: &'a Dir<'a>) -> impl Iterator<Item = &'a include_dir::File<'a>> {
    let mut stack: Vec<&DirEntry> = dir.entries().iter().collect();
    std::iter::from_fn(move || {
        while let Some(entry) = stack.pop() {
            match entry {
                DirEntry::File(f) => return Some(f),
                DirEntry::Dir(d) => stack.extend(d.entries()),
            }
        }
        None
    })
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| format!("cannot make {} executable: {e}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_package_names_are_refused() {
        for bad in ["", "Audit", "9lives", "a_b", "a-", "a b", "ä"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("sign-in-audit2").is_ok());
    }

    #[test]
    fn every_language_gets_its_template_its_sdk_and_the_wit_with_the_name_filled_in() {
        for lang in LANGS {
            let dir = tempfile::tempdir().unwrap();
            let project = dir.path().join("p");
            let done = scaffold(lang.name, "my-audit", &project).unwrap();
            for must in ["build.sh", "events.ndjson", "tokenwatch.toml", "wit/listener.wit"] {
                assert!(done.files.iter().any(|f| f == Path::new(must)), "{}: {must} missing", lang.name);
            }
            assert!(done.files.iter().any(|f| f.starts_with("sdk")), "{}: no SDK", lang.name);
            let config = std::fs::read_to_string(project.join("tokenwatch.toml")).unwrap();
            assert!(config.contains("\"my-audit\"") && !config.contains("{{name}}"), "{}: {config}", lang.name);
            assert!(!done.files.iter().any(|f| f.starts_with("sdk/compile-fail")), "{}: the SDK's tests were copied", lang.name);
            // A second time into the same, now full, directory is refused.
            assert!(scaffold(lang.name, "my-audit", &project).unwrap_err().contains("not empty"));
        }
        assert!(scaffold("cobol", "x", Path::new("/nonexistent")).unwrap_err().contains("rust"));
    }
}
