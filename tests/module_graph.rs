//! The top-level modules of src/ and which of them name which (`crate::x`,
//! comments included), read from the source. Each module names only modules
//! of the layers below its own, so no two name each other, even through
//! others. Bottom to top (`LAYERS` below is the checked form):
//!
//!   ffi (bindings; names no other module)
//!     -> sync, guard, requires, psp (small helpers over ffi)
//!       -> config (directive parsing, per-directory/server settings, the
//!          per-feature settings types; names no feature)
//!         -> bytecode, python_flags, metrics, thread_states, then gate
//!           -> interp (entering Python from an httpd thread, its errors)
//!             -> interpreters (sub-interpreters, PythonPath, atexit)
//!               -> locks (the global locks)
//!                 -> request (the Python-visible objects)
//!                   -> handlers (phase dispatch), then filters, conn_handler, ssi
//!                     -> daemon (daemon mode's processes and hand-over)
//!                       -> wsgi (the WSGI adapter, which routes to daemons)
//!                         -> pymodule (`_apache`, assembled from the above)
//!                           -> child (Python's start in a process: names every feature),
//!                              scheduling (the children's CPU policy)
//!                             -> capacity (the start-up report)
//!                               -> directives (the command table)
//!                                 -> module (the module record and hooks)
//!
//! Where a lower module must reach a higher one at run time, the higher one
//! registers a function at start (`interpreters::BOOT`, `request::state::ON_END`,
//! both set by src/child).
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first: a module names only modules of earlier layers.
const LAYERS: &[&[&str]] = &[
    &["ffi"],
    &["sync", "guard", "requires", "psp"],
    &["config"],
    &["bytecode", "python_flags", "metrics", "thread_states"],
    &["gate"],
    &["interp"],
    &["interpreters"],
    &["locks"],
    &["request"],
    &["handlers"],
    &["filters", "conn_handler", "ssi"],
    &["daemon"],
    &["wsgi"],
    &["pymodule"],
    &["child", "scheduling"],
    &["capacity"],
    &["directives"],
    &["module"],
];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules: src/x.rs and src/x/ (lib.rs is the crate root).
fn top_level_modules() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(src()).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.insert(name);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            if stem != "lib" {
                out.insert(stem.to_string());
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The first path segments a source text names after `crate::`, including
/// each item of `crate::{a, b::c, ...}` groups (nested braces too).
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // Items at depth 0 of the group: their first segment.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if c.is_whitespace() => {}
                    _ if start && depth == 0 => {
                        out.insert(ident_at(&group[j..]).to_string());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident_at(after).to_string());
        }
        rest = after;
    }
    out
}

fn graph() -> Graph {
    let tops = top_level_modules();
    let mut g = Graph::new();
    for m in &tops {
        let mut files = Vec::new();
        let file = src().join(format!("{m}.rs"));
        if file.exists() {
            files.push(file);
        }
        let dir = src().join(m);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        let deps = g.entry(m.clone()).or_default();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            deps.extend(named_modules(&text).into_iter().filter(|d| tops.contains(d) && d != m));
        }
    }
    g
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(g: &Graph) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        g: &'a Graph,
        next: usize,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        for w in s.g[v].iter() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.stack.contains(&w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                comp.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        g,
        next: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn the_reader_finds_modules_in_groups_and_paths() {
    let found = named_modules("use crate::{ffi::{self, raw}, config};\nlet x = crate::wsgi::handler;\n// crate::sync here too");
    assert_eq!(found, ["config", "ffi", "sync", "wsgi"].iter().map(|s| s.to_string()).collect());
}

#[test]
fn cycle_finder_sees_a_cycle_and_a_chain() {
    let mut g = Graph::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        g.entry(a.into()).or_default().insert(b.into());
        g.entry(b.into()).or_default();
    }
    assert_eq!(cycles(&g), vec![["a", "b", "c"].iter().map(|s| s.to_string()).collect()]);
}

#[test]
fn bindings_name_no_module_above_them() {
    let g = graph();
    assert!(g["ffi"].is_empty(), "src/ffi names {:?}", g["ffi"]);
}

#[test]
fn configuration_names_no_feature() {
    let g = graph();
    let allowed: BTreeSet<String> = ["ffi", "sync", "requires"].iter().map(|s| s.to_string()).collect();
    let extra: Vec<_> = g["config"].difference(&allowed).collect();
    assert!(
        extra.is_empty(),
        "config names {extra:?}: features depend on config, not the reverse"
    );
}

#[test]
fn only_the_module_record_reads_the_directive_table_and_nothing_names_the_module() {
    let g = graph();
    for (m, deps) in &g {
        if m != "module" {
            assert!(!deps.contains("directives"), "{m} names directives");
        }
        assert!(!deps.contains("module"), "{m} names module (the record and hooks sit on top)");
    }
}

#[test]
fn no_cycle_between_top_level_modules() {
    let g = graph();
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "top-level modules name each other in a circle: {found:?}; see the layers at the top of this file"
    );
}

#[test]
fn every_module_names_only_the_layers_below_its_own() {
    let g = graph();
    let layer_of = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    for (m, deps) in &g {
        let Some(mine) = layer_of(m) else {
            panic!("src/{m} is in no layer: add it to LAYERS (and to the list at the top of this file and README's layout)");
        };
        for d in deps {
            let theirs = layer_of(d).unwrap_or(usize::MAX);
            assert!(
                theirs < mine,
                "{m} names {d}, which is not in a layer below {m}'s: move what {m} needs down, or register it at start (see the top of this file)"
            );
        }
    }
    for m in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(g.contains_key(*m), "LAYERS lists {m}, which is no longer a module of src/");
    }
}
