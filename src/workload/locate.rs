//! Where each key of a scenario file is written: the line of every key path
//! (`workload.keys[1].count`, `server.profile`, `variant[0].set`), from the spans the TOML
//! parser records. Tables, arrays of tables, inline tables, dotted keys, multi-line strings and
//! comments are all read as TOML reads them.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The 1-based line and column of byte `offset` in `text`.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// One key path written in the file.
struct Entry {
    path: String,
    line: usize,
    /// A `[[table]]` header (an element of an array of tables, `x[N]`), not a key.
    header: bool,
}

/// The lines of a scenario file's key paths.
pub(super) struct Lines {
    entries: Vec<Entry>,
}

impl Lines {
    /// Reads `text` as TOML; what cannot be parsed is left out (the parser recovers past a
    /// syntax error, so the keys before and after it are still found).
    pub(super) fn new(text: &str) -> Lines {
        let (doc, _errors) = DeTable::parse_recoverable(text);
        let mut lines = Lines { entries: Vec::new() };
        lines.table(text, "", doc.get_ref());
        lines
    }

    fn table(&mut self, text: &str, path: &str, t: &DeTable<'_>) {
        for (k, v) in t.iter() {
            let p = if path.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{path}.{}", k.get_ref())
            };
            self.entries.push(Entry {
                path: p.clone(),
                line: line_col(text, k.span().start).0,
                header: false,
            });
            self.value(text, &p, v);
        }
    }

    fn value(&mut self, text: &str, path: &str, v: &Spanned<DeValue<'_>>) {
        match v.get_ref() {
            DeValue::Table(t) => self.table(text, path, t),
            DeValue::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    let start = item.span().start;
                    self.entries.push(Entry {
                        path: p.clone(),
                        line: line_col(text, start).0,
                        header: text.get(start..).is_some_and(|s| s.starts_with("[[")),
                    });
                    self.value(text, &p, item);
                }
            }
            _ => {}
        }
    }

    /// The line of a key path; failing that, the line of the nearest parent written in the
    /// file.
    pub(super) fn locate(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(e) = self.entries.iter().find(|e| e.path == path) {
                return Some(e.line);
            }
            path = path.rsplit_once(['.', '[']).map(|(parent, _)| parent)?;
        }
    }

    /// The key path written on line `line`: the `[[table]]` header there (`workload.keys[1]`),
    /// else the outermost key that starts there.
    pub(super) fn path_at(&self, line: usize) -> Option<&str> {
        let on_line = || self.entries.iter().filter(|e| e.line == line);
        on_line()
            .find(|e| e.header)
            .or_else(|| on_line().min_by_key(|e| e.path.len()))
            .map(|e| e.path.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r##"name = "a # not a comment"
[server]
profile = "x" # a comment with "quotes" and = signs
[[workload.keys]]
name = "k"
text = """
fake = 1
"""
value_size = { dist = "uniform",
  min = 1, max = 2 }
[[workload.keys]]
"odd#key" = 3
[[variant]]
set = { "workload.keys.k.count" = 2 }
"##;

    #[test]
    fn every_key_is_found_on_its_line() {
        let l = Lines::new(TEXT);
        assert_eq!(l.locate("name"), Some(1));
        assert_eq!(l.locate("server.profile"), Some(3));
        assert_eq!(l.locate("workload.keys[0]"), Some(4));
        assert_eq!(l.locate("workload.keys[0].value_size"), Some(9));
        assert_eq!(l.locate("workload.keys[0].value_size.max"), Some(10));
        // Inside a multi-line string nothing is a key: its parent is found instead.
        assert_eq!(l.locate("workload.keys[0].fake"), Some(4));
        assert_eq!(l.locate("workload.keys[1].odd#key"), Some(12));
        assert_eq!(l.locate("workload.keys[1].count"), Some(11));
        assert_eq!(l.locate("variant[0].set"), Some(14));
        assert_eq!(l.locate("nowhere"), None);
    }

    #[test]
    fn a_line_names_its_header_or_its_outermost_key() {
        let l = Lines::new(TEXT);
        assert_eq!(l.path_at(11), Some("workload.keys[1]"));
        assert_eq!(l.path_at(14), Some("variant[0].set"));
        assert_eq!(l.path_at(2), Some("server"));
        assert_eq!(l.path_at(7), None);
    }

    #[test]
    fn keys_around_a_syntax_error_are_still_found() {
        let l = Lines::new("name = \"x\nseed = 2\n[server]\nprofile = \"y\"\n");
        assert_eq!(l.locate("server.profile"), Some(4));
    }
}
