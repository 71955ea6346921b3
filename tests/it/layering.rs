//! The library's layers import only downward: units <- jemalloc <- redis <- workload <- sim <-
//! {report, validate, import} <- app <- cli. Reads every source file under src/ and fails on a `crate::`
//! path (in code, not comments) that names a module at the same or a higher layer, or a
//! `super::super` that leaves a top-level module. Also fails on a public function that returns
//! `Result<_, String>`: every layer's errors are typed.

use std::path::{Path, PathBuf};

/// Top-level modules and their layer; a module may import only modules of a lower layer.
/// `report`, `validate` and `import` share a layer and may not import each other.
const LAYERS: &[(&str, u32)] = &[
    ("units", 0),
    ("jemalloc", 1),
    ("redis", 2),
    ("workload", 3),
    ("sim", 4),
    ("report", 5),
    ("validate", 5),
    ("import", 5),
    ("app", 6),
    ("cli", 7),
];

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
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

/// The src/ directory and every Rust file under it, sorted.
fn source_files() -> (PathBuf, Vec<PathBuf>) {
    let src = crate::common::repo_path("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    (src, files)
}

/// The text with comments and string/char literals blanked (line structure kept).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == b'\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (b[i..].starts_with(b"r#\"") || b[i..].starts_with(b"r\"")) {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            i += 2 + hashes;
            while i < b.len() && !b[i..].starts_with(&close) {
                if b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += close.len();
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('x' or '\n'); lifetimes ('a) pass through.
            i += 1;
            if b[i] == b'\\' {
                i += 1;
            }
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            let ch = src[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The top-level modules a file's code names through `crate::`, with their line numbers.
fn crate_imports(code: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let b = code.as_bytes();
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let ident = |from: usize| -> String {
        code[from..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut start = 0;
    while let Some(off) = code[start..].find("crate::") {
        let pos = start + off;
        start = pos + 7;
        if pos > 0 && (b[pos - 1].is_ascii_alphanumeric() || b[pos - 1] == b'_' || b[pos - 1] == b'$') {
            continue; // `$crate::` in a macro, or an identifier ending in "crate"
        }
        let mut j = pos + 7;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j < b.len() && b[j] == b'{' {
            // use crate::{a::b, c, d::{e, f}}: the first segment of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            let mut k = j;
            while k < b.len() {
                match b[k] {
                    b'{' => {
                        depth += 1;
                        if depth == 1 {
                            item_start = true;
                        }
                    }
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => item_start = true,
                    c if depth == 1 && item_start && (c.is_ascii_alphabetic() || c == b'_') => {
                        found.push((ident(k), line_of(k)));
                        item_start = false;
                    }
                    _ => {}
                }
                k += 1;
            }
        } else {
            found.push((ident(j), line_of(pos)));
        }
    }
    found
}

#[test]
fn modules_import_only_lower_layers() {
    let (src, files) = source_files();
    let mut problems = Vec::new();
    let mut checked = 0;
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(own) = layer(&top) else {
            problems.push(format!(
                "src/{}: module '{top}' has no layer in tests/it/layering.rs LAYERS",
                rel.display()
            ));
            continue;
        };
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        if rel.components().count() >= 2 && code.contains("super::super") {
            for (n, l) in code.lines().enumerate() {
                if l.contains("super::super") {
                    problems.push(format!(
                        "src/{}:{}: super::super leaves the module; name it through crate::",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
        for (m, line) in crate_imports(&code) {
            checked += 1;
            if m == top || m == "self" {
                continue;
            }
            match layer(&m) {
                Some(l) if l < own => {}
                Some(l) => problems.push(format!(
                    "src/{}:{line}: '{top}' (layer {own}) imports crate::{m} (layer {l}); \
                     imports point down only",
                    rel.display()
                )),
                None => problems.push(format!(
                    "src/{}:{line}: crate::{m} is not a module in tests/it/layering.rs LAYERS",
                    rel.display()
                )),
            }
        }
    }
    assert!(checked > 100, "found only {checked} crate:: paths");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scanner_sees_imports_in_every_form() {
    let code = code_only(
        "use crate::{a::b, c, d::{e, f}};\n// crate::hidden\nlet s = \"crate::str\";\n\
         let r = r#\"crate::raw\"#;\nfn x() { crate::g::h(); }\nlet c = '{';\n\
         /* crate::block */ macro_rules! m { () => { $crate::m2 } }",
    );
    let names: Vec<(String, usize)> = crate_imports(&code);
    let expected: Vec<(String, usize)> = [("a", 1), ("c", 1), ("d", 1), ("g", 5)]
        .iter()
        .map(|&(m, l)| (m.to_string(), l))
        .collect();
    assert_eq!(names, expected);
}

/// Public functions (`pub fn`, methods included, not `pub(crate)`) whose return type is a
/// `Result` with `String` as its error, as (name, line).
fn string_error_fns(code: &str) -> Vec<(String, usize)> {
    let b = code.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let word_at = |i: usize, w: &str| {
        b[i..].starts_with(w.as_bytes())
            && (i == 0 || !is_ident(b[i - 1]))
            && b.get(i + w.len()).is_none_or(|&c| !is_ident(c))
    };
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    // Type aliases of such a Result (`type Res<T> = Result<T, String>;`) count as one.
    let mut aliases = Vec::new();
    for (k, _) in code.match_indices("type") {
        if !word_at(k, "type") {
            continue;
        }
        let decl: String = code[k + 4..]
            .chars()
            .take_while(|&c| c != ';')
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Some((name, def)) = decl.split_once('=') {
            if returns_string_error(def) {
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                aliases.push(format!("{name}<"));
            }
        }
    }
    let uses_alias = |ret: &str| {
        aliases.iter().any(|a| {
            ret.match_indices(a.as_str())
                .any(|(k, _)| k == 0 || !is_ident(ret.as_bytes()[k - 1]))
        })
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !word_at(i, "pub") {
            i += 1;
            continue;
        }
        let start = i;
        i = skip_ws(i + 3);
        // Qualifiers between `pub` and `fn` (a `pub(crate)` never gets here: `(` follows).
        loop {
            if let Some(q) = ["const", "async", "unsafe"].iter().find(|q| word_at(i, q)) {
                i = skip_ws(i + q.len());
            } else if word_at(i, "extern") {
                i = skip_ws(i + 6);
                if b[i..].starts_with(b"\"\"") {
                    i = skip_ws(i + 2);
                }
            } else {
                break;
            }
        }
        if !word_at(i, "fn") {
            continue;
        }
        let name: String = code[skip_ws(i + 2)..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // The signature ends at the body's `{` (or a trait method's `;`) outside () and [].
        let mut depth = 0i32;
        let mut end = i;
        while end < b.len() {
            match b[end] {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b'{' | b';' if depth == 0 => break,
                _ => {}
            }
            end += 1;
        }
        let sig: String = code[i..end].chars().filter(|c| !c.is_whitespace()).collect();
        // The return type follows the parameter list's closing parenthesis.
        let mut depth = 0;
        let params_end = sig.char_indices().find_map(|(k, c)| {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(k + 1);
                    }
                }
                _ => {}
            }
            None
        });
        let ret = params_end.and_then(|k| sig[k..].strip_prefix("->"));
        if ret.is_some_and(|r| returns_string_error(r) || uses_alias(r)) {
            found.push((name, code[..start].matches('\n').count() + 1));
        }
        i = end;
    }
    found
}

/// Whether a return type (without whitespace) has a `Result<..., String>` in it.
fn returns_string_error(ret: &str) -> bool {
    let mut rest = ret;
    while let Some(pos) = rest.find("Result<") {
        let args = &rest[pos + 7..];
        // The Result's arguments: up to its closing `>`, split at its own commas.
        // `last_arg` is where the last argument starts: 0 is a one-argument alias
        // (`io::Result<String>`), whose argument is not the error.
        let (mut depth, mut last_arg) = (0i32, 0);
        for (k, c) in args.char_indices() {
            match c {
                '<' | '(' | '[' => depth += 1,
                '>' if k > 0 && args.as_bytes()[k - 1] == b'-' => {}
                ')' | ']' => depth -= 1,
                '>' if depth > 0 => depth -= 1,
                '>' => {
                    let err = &args[last_arg..k];
                    if last_arg > 0 && (err == "String" || err == "std::string::String") {
                        return true;
                    }
                    break;
                }
                ',' if depth == 0 => last_arg = k + 1,
                _ => {}
            }
        }
        rest = &rest[pos + 7..];
    }
    false
}

#[test]
fn no_public_function_returns_a_string_error() {
    let (src, files) = source_files();
    let mut problems = Vec::new();
    let mut checked = 0;
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        checked += code.matches("pub fn").count();
        for (name, line) in string_error_fns(&code) {
            problems.push(format!(
                "src/{rel}:{line}: pub fn {name} returns Result<_, String>; give it a typed error"
            ));
        }
    }
    assert!(checked > 300, "found only {checked} public functions");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scanner_sees_string_errors_in_every_form() {
    let code = code_only(
        "pub fn a() -> Result<u64, String> {}\n\
         pub(crate) fn b() -> Result<u64, String> {}\n\
         fn c() -> Result<u64, String> {}\n\
         pub fn d(\n    x: [u8; 4],\n) -> Result<(Vec<u8>, String), String>\nwhere\n    u8: Copy,\n{}\n\
         pub fn e() -> Result<String, Error> {}\n\
         pub const fn f() -> Option<Result<u8, std::string::String>> {}\n\
         pub fn g(f: impl Fn() -> u8) -> std::io::Result<String> {}\n\
         impl X { pub fn h(&self) -> Result<Box<dyn Fn(u8) -> u8>, String>; }\n\
         // pub fn i() -> Result<u8, String> {}\n\
         type Res<T> = Result<T, String>;\npub fn j() -> Res<u8> {}\npub fn k() -> MyRes<u8> {}\n",
    );
    let names: Vec<(String, usize)> = string_error_fns(&code);
    let expected: Vec<(String, usize)> = [("a", 1), ("d", 4), ("f", 11), ("h", 13), ("j", 16)]
        .iter()
        .map(|&(m, l)| (m.to_string(), l))
        .collect();
    assert_eq!(names, expected);
}
