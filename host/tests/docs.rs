//! The README and docs/ cannot drift from the code: every link names a file the repository
//! has; every TOML example is a config the host reads; every `tokenwatch` command line in a
//! shell block is one the command accepts; every transcript (a `$ command` and its output)
//! is run again and must print what it shows; the embedding example is the built one.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fenced blocks of a Markdown text: (info string, body).
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else { continue };
        let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        out.push((info.trim().to_owned(), body.iter().map(|l| format!("{l}\n")).collect()));
    }
    out
}

/// Every fenced block of the README and docs/, with the document it is in.
fn all_blocks() -> Vec<(PathBuf, String, String)> {
    documents()
        .into_iter()
        .flat_map(|doc| {
            let text = std::fs::read_to_string(root().join(&doc)).unwrap();
            blocks(&text).into_iter().map(move |(info, body)| (doc.clone(), info, body))
        })
        .collect()
}

/// Lines with their `\` continuations joined and `# comments` cut.
fn commands(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in body.lines() {
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        match line.trim_end().strip_suffix('\\') {
            Some(part) => pending.push_str(part),
            None => {
                pending.push_str(line);
                out.push(std::mem::take(&mut pending).split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
    }
    out
}

#[test]
fn every_toml_example_is_a_config_the_host_reads() {
    let mut checked = 0;
    for (doc, info, body) in all_blocks() {
        if info != "toml" || body.contains("[package]") {
            continue; // a Cargo manifest
        }
        // A `[listener.limits]` snippet belongs to a `[[listener]]` table.
        let text = if body.trim_start().starts_with("[listener.") { format!("[[listener]]\npath = \"x.wasm\"\n{body}") } else { body.clone() };
        if let Err(e) = tokenwatch::Config::from_toml(&text, Path::new("/nonexistent")) {
            panic!("{}: a TOML example the host refuses: {e}\n{body}", doc.display());
        }
        checked += 1;
    }
    assert!(checked >= 4, "{checked} TOML examples");
}

#[test]
fn every_tokenwatch_command_in_a_shell_block_is_one_the_command_accepts() {
    let mut checked = Vec::new();
    for (doc, info, body) in all_blocks() {
        if info != "sh" {
            continue;
        }
        for command in commands(&body) {
            let Some(args) = command.strip_prefix("tokenwatch ") else { continue };
            // A synopsis (`[--flag]`, `a|b`, `NAME`) shows a form, not a command.
            if args.contains(['[', '|']) || args.split(' ').any(|w| w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase())) {
                continue;
            }
            let args: Vec<&str> = args.trim_end_matches('&').split_whitespace().collect();
            // `--help` after the arguments: clap parses them first, so an unknown flag or
            // subcommand, or a value it does not take, fails here.
            let o = Command::new(env!("CARGO_BIN_EXE_tokenwatch")).args(&args).arg("--help").output().unwrap();
            assert!(
                o.status.success(),
                "{}: `{command}` is not a command tokenwatch accepts: {}",
                doc.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            checked.push(command);
        }
    }
    assert!(checked.len() >= 8, "{checked:?}");
}

/// A line of output as a transcript compares it: digits are `N`, long base64url runs (keys,
/// signatures) are `B`, and runs of spaces are one.
fn normalized(line: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.len() >= 20 && word.chars().any(|c| c.is_ascii_digit() || c == '_' || c == '-') {
            out.push('B');
        } else {
            let mut last_digit = false;
            for c in word.chars() {
                if c.is_ascii_digit() {
                    if !last_digit {
                        out.push('N');
                    }
                    last_digit = true;
                } else {
                    out.push(c);
                    last_digit = false;
                }
            }
        }
        word.clear();
    };
    for c in line.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    // A duration is `T` whatever its unit: the same column says `1464µs` on one run and
    // `11 ms` on a slower one.
    let mut tokens: Vec<&str> = Vec::new();
    for token in out.split_whitespace() {
        let number = |t: &str| t == "N" || t == "N.N";
        match tokens.last() {
            Some(last) if number(last) && matches!(token, "µs" | "ms" | "s") => *tokens.last_mut().unwrap() = "T",
            _ if ["Nµs", "N.Nµs", "Nms", "N.Nms"].contains(&token) => tokens.push("T"),
            _ => tokens.push(token),
        }
    }
    tokens.join(" ")
}

/// Whether `actual` is what the transcript line `shown` shows: `...` stands for any text.
fn shows(shown: &str, actual: &str) -> bool {
    let pieces: Vec<&str> = shown.split("...").collect();
    let (first, last) = (pieces[0].trim(), pieces[pieces.len() - 1].trim());
    if !actual.starts_with(first) || (pieces.len() > 1 && !actual.ends_with(last)) || (pieces.len() == 1 && actual != first) {
        return false;
    }
    let mut rest = &actual[first.len()..];
    for piece in pieces.iter().skip(1).take(pieces.len().saturating_sub(2)) {
        match rest.find(piece.trim()) {
            Some(i) => rest = &rest[i + piece.trim().len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn every_transcript_prints_what_it_shows() {
    // The repository's demo and guests, and the keys the signing transcripts name.
    let dir = tempfile::tempdir().unwrap();
    for name in ["demo", "guests"] {
        std::os::unix::fs::symlink(root().join(name), dir.path().join(name)).unwrap();
    }
    for (file, alg) in [("ec.pem", tokenwatch::signing::Alg::ES256), ("rsa.pem", tokenwatch::signing::Alg::RS256)] {
        std::fs::write(dir.path().join(file), tokenwatch::signing::generate(alg, "docs").pkcs8_pem).unwrap();
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tokenwatch"));
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let mut run = 0;
    for (doc, info, body) in all_blocks() {
        if !info.is_empty() || !body.starts_with("$ ") {
            continue;
        }
        // The command (its `\\` continuations joined), then what it printed.
        let mut lines = body.lines();
        let mut command = String::new();
        for line in lines.by_ref() {
            match line.strip_suffix('\\') {
                Some(part) => command.push_str(part),
                None => {
                    command.push_str(line);
                    break;
                }
            }
        }
        let command = command["$ ".len()..].to_owned();
        let o = Command::new("sh").args(["-c", &format!("{command} 2>&1")]).current_dir(dir.path()).env("PATH", &path).env("NO_COLOR", "1").output().unwrap();
        let printed = String::from_utf8_lossy(&o.stdout).into_owned();
        let actual: Vec<String> = printed.lines().map(normalized).collect();
        // Each shown line, in order, is a printed line (`...` alone skips lines, as any gap does).
        let mut at = 0;
        for shown in lines.map(normalized).filter(|l| l != "...") {
            match actual[at..].iter().position(|a| shows(&shown, a)) {
                Some(i) => at += i + 1,
                None => panic!("{}: `{command}` did not print\n  {shown}\nafter line {at} of\n{printed}", doc.display()),
            }
        }
        run += 1;
    }
    assert!(run >= 5, "{run} transcripts");
}

#[test]
fn the_transcript_matcher_tells_a_different_output_apart() {
    assert_eq!(normalized("#0 id_token   probe  trap fuel=1989  70µs"), "#N id_token probe trap fuel=N T");
    assert_eq!(normalized("time   2µs  1464µs   11 ms  100 ms  98.5%"), "time T T T T N.N%");
    assert!(shows(&normalized("#0 id_token sign-in-set ok fuel=264685 ..."), &normalized("#0 id_token sign-in-set ok fuel=264001 35µs")));
    assert!(!shows(&normalized("#0 id_token sign-in-set ok fuel=1 ...µs"), &normalized("#0 id_token sign-in-set trap fuel=1 35µs")));
    assert!(shows(&normalized("SET eyJhbGciOiJSUzI1NiIsInR5cCI6InNlY2V2ZW50K2p3dCIsImtpZCI6..."), &normalized("SET eyJhbGciOiJSUzI1NiIsInR5cCI6InNlY2V2ZW50K2p3dCIsImtpZCI6Ij.eyJpc3MiOiJodHRwczovL2MyaWQ.c2lnbmF0dXJlX2J5dGVz")));
    assert!(!shows("verdict: pass", "verdict: FAIL (trap)"));
}

/// README.md and every docs/**/*.md, as paths relative to the repository root.
fn documents() -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, relative: &std::path::Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            let name = relative.join(path.file_name().unwrap());
            if path.is_dir() {
                walk(&path, &name, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(name);
            }
        }
    }
    let mut docs = vec![PathBuf::from("README.md")];
    walk(&root().join("docs"), "docs".as_ref(), &mut docs);
    docs
}

#[test]
fn the_readme_and_docs_name_only_documents_the_repository_has() {
    let docs = documents();
    assert!(docs.len() > 10 && docs.contains(&PathBuf::from("docs/embedding.md")), "{docs:?}");
    let mut missing = Vec::new();
    for doc in &docs {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        let dir = doc.parent().unwrap();
        // A `name.md` in code text: from the repository root or from the document's folder.
        for (i, part) in text.split('`').enumerate() {
            if i % 2 == 1 && part.ends_with(".md") && !part.contains(char::is_whitespace) && !root().join(part).exists() && !root().join(dir).join(part).exists() {
                missing.push(format!("{}: {part}", doc.display()));
            }
        }
        // A link: from the document's folder.
        for link in text.split("](").skip(1) {
            let target = link.split(')').next().unwrap_or("");
            let file = target.split('#').next().unwrap();
            if !file.is_empty() && !target.contains("://") && !root().join(dir).join(file).exists() {
                missing.push(format!("{}: {target}", doc.display()));
            }
        }
    }
    assert!(missing.is_empty(), "the README and docs/ name files the repository does not have: {missing:?}");
}

#[test]
fn the_readme_embedding_example_is_examples_embed_rs() {
    let doc = std::fs::read_to_string(root().join("docs/embedding.md")).unwrap();
    let section = &doc[doc.find("## Embedding (Rust API)").unwrap()..];
    let start = section.find("```rust\n").unwrap() + "```rust\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let file = std::fs::read_to_string(root().join("host/examples/embed.rs")).unwrap();
    let code: String = file.lines().skip_while(|l| l.starts_with("//!") || l.is_empty()).map(|l| format!("{l}\n")).collect();
    assert_eq!(block, code, "docs/embedding.md's example is host/examples/embed.rs without its header");
}

