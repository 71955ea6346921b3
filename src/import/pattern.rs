//! Key patterns: what a key name looks like once its identifiers are masked. `user:1042:session`
//! and `user:77:session` are both `user:*:session`; the pattern is what the imported scenario
//! keeps of a name (never the name itself, unless asked).
//!
//! A name is cut at the separators people put in key names (`:` `/` `|` `#` `,` `;` `=` `@`
//! `.` and space), each piece again at `-` and `_`. A piece is an identifier, masked as `*`,
//! when it holds a digit, is 20 characters or longer, or mixes upper and lower case past 8
//! characters (base64, random tokens); a UUID is one identifier. Neighbouring masked pieces
//! joined by `-` or `_` become one `*`. Literal `*`, braces and control characters in a kept
//! piece are written as `_` so that a pattern is always valid scenario text.
//!
//! Names whose identifiers are words (`session:alice`, `session:bob`) are folded afterwards by
//! [`fold`]: patterns that differ in one piece only, and are many, become one with `*` there.

use std::collections::HashMap;

/// The separators between a key name's pieces.
const MAJOR: &[u8] = b":/|#,;=@. ";
/// The separators inside a piece.
const MINOR: &[u8] = b"-_";

/// Whether `piece` is an identifier (masked) rather than a word of the name.
fn is_identifier(piece: &[u8]) -> bool {
    if piece.is_empty() {
        return false;
    }
    if piece.iter().any(u8::is_ascii_digit) || piece.len() >= 20 {
        return true;
    }
    if piece.len() > 8 && piece.iter().any(u8::is_ascii_uppercase) && piece.iter().any(u8::is_ascii_lowercase)
    {
        return true;
    }
    // Anything but plain ASCII letters (non-ASCII text, symbols) is taken as data.
    !piece.iter().all(|b| b.is_ascii_alphabetic())
}

/// Whether `s` is a UUID: 8-4-4-4-12 hexadecimal digits.
fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// The pattern of a key name: identifiers masked as `*` (see the module text).
pub fn pattern_of(key: &[u8]) -> String {
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    loop {
        let end = rest.iter().position(|b| MAJOR.contains(b)).unwrap_or(rest.len());
        push_major(&rest[..end], &mut out);
        if end == rest.len() {
            break;
        }
        out.push(rest[end] as char);
        rest = &rest[end + 1..];
    }
    out
}

/// Appends one piece between major separators, masked where it is an identifier.
fn push_major(piece: &[u8], out: &mut String) {
    if is_uuid(piece) {
        out.push('*');
        return;
    }
    let mut rest = piece;
    let mut last_star = false;
    loop {
        let end = rest.iter().position(|b| MINOR.contains(b)).unwrap_or(rest.len());
        let part = &rest[..end];
        if is_identifier(part) {
            if !last_star {
                out.push('*');
            } else {
                // `*-*` is one identifier: drop the separator pushed before it.
                out.pop();
            }
            last_star = true;
        } else {
            for &b in part {
                out.push(if b.is_ascii_alphabetic() { b as char } else { '_' });
            }
            last_star = false;
        }
        if end == rest.len() {
            break;
        }
        out.push(rest[end] as char);
        rest = &rest[end + 1..];
    }
}

/// A pattern cut into its pieces and separators: `pieces[i]` then `seps[i]`, the last piece
/// without one.
fn split(p: &str) -> (Vec<&str>, Vec<char>) {
    let mut pieces = Vec::new();
    let mut seps = Vec::new();
    let mut start = 0;
    for (i, c) in p.char_indices() {
        if MAJOR.contains(&(c as u8)) && c.is_ascii() {
            pieces.push(&p[start..i]);
            seps.push(c);
            start = i + 1;
        }
    }
    pieces.push(&p[start..]);
    (pieces, seps)
}

fn join(pieces: &[&str], seps: &[char]) -> String {
    let mut out = String::new();
    for (i, p) in pieces.iter().enumerate() {
        out += p;
        if let Some(s) = seps.get(i) {
            out.push(*s);
        }
    }
    out
}

/// How many sibling patterns (differing only in one word piece, each of at most
/// [`FOLD_KEYS`] keys) make that piece an identifier.
pub const FOLD_SIBLINGS: usize = 8;
/// The most keys a pattern may hold to be folded: a word that names thousands of keys
/// (`queue:*`, `board:*`) is a namespace, not data.
pub const FOLD_KEYS: f64 = 3.0;

/// Folds patterns whose word pieces are data: where at least [`FOLD_SIBLINGS`] patterns of at
/// most [`FOLD_KEYS`] keys each differ only in the same piece, that piece becomes `*` in them.
/// Pieces are tried from the last to the first. `patterns` gives each pattern's keys; returns
/// each input pattern's folded pattern.
pub fn fold<'a, I: IntoIterator<Item = (&'a str, f64)>>(patterns: I) -> HashMap<String, String> {
    let input: Vec<(&str, f64)> = patterns.into_iter().collect();
    let mut map: HashMap<String, String> = input
        .iter()
        .map(|(p, _)| (p.to_string(), p.to_string()))
        .collect();
    let most = map.values().map(|p| split(p).0.len()).max().unwrap_or(0);
    for pos_from_end in 0..most {
        // The current patterns (with their keys) by their skeleton with piece `pos` masked.
        let mut keys: HashMap<String, f64> = HashMap::new();
        for (p, k) in &input {
            *keys.entry(map[*p].clone()).or_insert(0.0) += k;
        }
        let mut skeletons: HashMap<String, usize> = HashMap::new();
        for (cur, k) in &keys {
            if *k <= FOLD_KEYS {
                if let Some(s) = skeleton(cur, pos_from_end) {
                    *skeletons.entry(s).or_default() += 1;
                }
            }
        }
        for cur in map.values_mut() {
            if keys[cur.as_str()] > FOLD_KEYS {
                continue;
            }
            if let Some(s) = skeleton(cur, pos_from_end) {
                if skeletons.get(&s).is_some_and(|&n| n >= FOLD_SIBLINGS) {
                    *cur = s;
                }
            }
        }
    }
    map
}

/// `p` with its piece `pos_from_end` (0 the last) masked, if that piece is a word.
fn skeleton(p: &str, pos_from_end: usize) -> Option<String> {
    let (mut pieces, seps) = split(p);
    let i = pieces.len().checked_sub(1 + pos_from_end)?;
    if pieces[i] == "*" || pieces[i].is_empty() {
        return None;
    }
    pieces[i] = "*";
    Some(join(&pieces, &seps))
}

/// The pattern as a scenario's key pattern: the last `*` is the key's number `{n}`, any other
/// `*` a fixed `x` (the names' lengths come from the group's `key_size`), a space `_`; a
/// pattern without a `*` (a single key) ends in `{n}`.
pub fn key_pattern(p: &str) -> String {
    // A scenario's key pattern has no spaces: one of the same length stands in.
    let p = &p.replace(' ', "_");
    match p.rfind('*') {
        None => format!("{p}{{n}}"),
        Some(at) => format!("{}{{n}}{}", p[..at].replace('*', "x"), &p[at + 1..]),
    }
}

/// The pattern as a key group's name: no dots or spaces (a group's name is a path segment in
/// `workload.keys.NAME.field`).
pub fn group_name(p: &str) -> String {
    let name: String = p
        .chars()
        .map(|c| if c == '.' || c == ' ' { '_' } else { c })
        .collect();
    match name.as_str() {
        "" => "(empty)".into(),
        // `*` in a variant's path means every group.
        "*" => "other".into(),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_masked() {
        let cases = [
            ("user:1042:session", "user:*:session"),
            ("user:77:session", "user:*:session"),
            ("cache/v2/page/index.html", "cache/*/page/index.html"),
            ("order-2024-12-01-0042", "order-*"),
            ("sess_550e8400-e29b-41d4-a716-446655440000", "sess_*"),
            ("q:550e8400-e29b-41d4-a716-446655440000:jobs", "q:*:jobs"),
            ("token:AbCdEfGhIjKl", "token:*"),
            ("config", "config"),
            ("a{b}*c", "*"),
            ("rate:limit:alice", "rate:limit:alice"),
            ("x:", "x:"),
            ("", ""),
        ];
        for (k, want) in cases {
            assert_eq!(pattern_of(k.as_bytes()), want, "{k}");
        }
    }

    #[test]
    fn word_identifiers_fold_when_many() {
        let mut ps: Vec<String> = (0..10)
            .map(|i| {
                format!(
                    "session:{}",
                    ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"][i]
                )
            })
            .collect();
        ps.push("user:*:profile".into());
        ps.push("user:*:cart".into());
        ps.push("config".into());
        ps.extend((0..9).map(|i| format!("ns{}:*", ["a", "b", "c", "d", "e", "f", "g", "h", "i"][i])));
        let f = fold(
            ps.iter()
                .map(|p| (p.as_str(), if p.starts_with("ns") { 1000.0 } else { 1.0 })),
        );
        // Nine namespaces of a thousand keys each stay apart.
        assert_eq!(f["nsa:*"], "nsa:*");
        assert_eq!(f["session:alice"], "session:*");
        assert_eq!(f["session:judy"], "session:*");
        // Two siblings are two patterns, not data.
        assert_eq!(f["user:*:profile"], "user:*:profile");
        assert_eq!(f["user:*:cart"], "user:*:cart");
        assert_eq!(f["config"], "config");
    }

    #[test]
    fn scenario_names_and_patterns() {
        assert_eq!(key_pattern("user:*:session"), "user:{n}:session");
        assert_eq!(key_pattern("a:*:b:*"), "a:x:b:{n}");
        assert_eq!(key_pattern("config"), "config{n}");
        assert_eq!(key_pattern("my key:*"), "my_key:{n}");
        assert_eq!(group_name("cache/*/page/index.html"), "cache/*/page/index_html");
    }
}
