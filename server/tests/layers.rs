//! The server's layers run one way (docs/architecture.md):
//!
//! ```text
//! transport  http, web, cli, request   HTTP, cookies, flags; calls the domain
//! domain     accounts, auth, catalog,  the contract's rules; knows no HTTP
//!            list, validate, error
//! db         db                         SQL only: plain rows in and out
//! ```
//!
//! This test reads the sources and fails when a module names one it must
//! not: a circle between top-level modules, `db` reaching up (into the
//! domain, the transport or the wire types of `anitrack_spec`), the domain
//! reaching into the transport, or the transport reaching past the domain
//! into a table module of `db` (it may use `db`'s connection layer itself:
//! pools, migrations, readiness, errors).

// A test fails by panicking; its helpers are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const TRANSPORT: &[&str] = &["http", "web", "cli", "request"];
const DOMAIN: &[&str] = &["accounts", "auth", "catalog", "list", "validate", "error"];
/// `db`'s modules of SQL, one per table family.
const TABLE_MODULES: &[&str] = &[
    "accounts", "anime", "entries", "secrets", "sessions", "throttle", "tokens",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`src/auth/bearer.rs` →
/// `auth`, `src/cli.rs` → `cli`); `None` for the crate root and `main.rs`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// Every `crate::a::b` path in `text`, as (`a`, `b`).
fn crate_paths(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let mut parts = rest.split("::").map(|p| {
            p.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        });
        let top = parts.next().unwrap_or_default();
        // `crate::db::{self, PoolSettings}`: the second part may be a group.
        let second = rest
            .split_once("::")
            .map(|(_, after)| after)
            .unwrap_or("")
            .to_string();
        let second = if second.starts_with('{') {
            second
                .trim_start_matches('{')
                .split('}')
                .next()
                .unwrap_or("")
                .to_string()
        } else {
            parts.next().unwrap_or_default()
        };
        if !top.is_empty() {
            found.push((top, second));
        }
    }
    found
}

struct Graph {
    /// module → modules it names
    edges: BTreeMap<String, BTreeSet<String>>,
    /// (file, line) of every finding
    violations: Vec<String>,
}

fn graph() -> Graph {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut violations = Vec::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file.strip_prefix(&src).unwrap().display().to_string();
        for (top, second) in crate_paths(&text) {
            if top != module {
                edges.entry(module.clone()).or_default().insert(top.clone());
            }
            if module == "db" && top != "db" {
                violations.push(format!("{shown}: db names crate::{top}"));
            }
            if DOMAIN.contains(&module.as_str()) && TRANSPORT.contains(&top.as_str()) {
                violations.push(format!(
                    "{shown}: the domain names the transport crate::{top}"
                ));
            }
            if TRANSPORT.contains(&module.as_str()) && top == "db" {
                let named: Vec<&str> = second.split(',').map(str::trim).collect();
                for table in TABLE_MODULES {
                    if named.iter().any(|n| n == table) {
                        violations.push(format!(
                            "{shown}: the transport reaches into crate::db::{table}"
                        ));
                    }
                }
            }
        }
        if module == "db" && text.contains("anitrack_spec") {
            violations.push(format!("{shown}: db names the wire types of anitrack_spec"));
        }
    }
    Graph { edges, violations }
}

/// A circle through `start`, if there is one.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        edges: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        node: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in edges.get(node).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(edges, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(edges, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn layers_run_one_way() {
    let graph = graph();
    assert!(
        graph.violations.is_empty(),
        "layering violations:\n{}",
        graph.violations.join("\n")
    );
}

#[test]
fn no_two_top_level_modules_name_each_other_in_a_circle() {
    let graph = graph();
    for module in graph.edges.keys() {
        if let Some(path) = circle(&graph.edges, module) {
            panic!("circle: {}", path.join(" -> "));
        }
    }
    // The check sees the modules it is about.
    assert!(graph.edges.contains_key("http") && graph.edges.contains_key("list"));
}

#[test]
fn the_check_catches_what_it_forbids() {
    assert_eq!(
        crate_paths("use crate::db::{self, tokens};"),
        vec![("db".to_string(), "self, tokens".to_string())]
    );
    assert_eq!(
        crate_paths("let x = crate::auth::bearer::authenticate();"),
        vec![("auth".to_string(), "bearer".to_string())]
    );
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert!(circle(&edges, "a").is_some());
    edges.remove("b");
    assert!(circle(&edges, "a").is_none());
}
