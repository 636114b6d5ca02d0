//! A [`Summary`] as text for a terminal and as Markdown for
//! `docs/api-changes.md`: one heading per group, one line per change, the
//! places that changed alike on one line (a header added to every
//! operation is one line, not thirteen); descriptions, which only say
//! where, share one line.

use std::fmt::Write as _;

use super::{Group, Line, Summary};

/// How many places the descriptions line names before it counts the rest.
const PLACES_SHOWN: usize = 8;

const NOTHING: &str = "No change to the API: the documents differ only in what neither the gate \
     nor this summary reads (examples, ordering, equivalent spellings)";
const NOT_BREAKING: &str = "Breaking: none (by the rules of `cargo xtask openapi compat`)";

impl Summary {
    /// For a terminal: a heading per group, its lines indented.
    pub fn text(&self) -> String {
        let style = Style {
            place: |p| p.to_string(),
            what: |w| w.to_string(),
            heading: |title| format!("{title}\n"),
            indent: "  ",
            item: "",
        };
        self.render(&style)
    }

    /// For Markdown: a list item per group, its lines nested.
    pub fn markdown(&self) -> String {
        let style = Style {
            place: code,
            what: escape_markdown,
            heading: |title| format!("- **{title}**\n"),
            indent: "  - ",
            item: "- ",
        };
        self.render(&style)
    }

    fn render(&self, style: &Style) -> String {
        let Style {
            place: show,
            what: said,
            heading,
            indent,
            item,
        } = style;
        let mut out = String::new();
        if self.is_empty() {
            let _ = writeln!(out, "{item}{NOTHING}");
            return out;
        }
        for (group, lines) in &self.groups {
            if *group == Group::Descriptions {
                let _ = writeln!(out, "{item}{}", compact(*group, lines, *show));
                continue;
            }
            out.push_str(&heading(group.title()));
            for (places, what) in alike(lines) {
                let places: Vec<String> = places.iter().map(|p| show(p)).collect();
                let what: Vec<String> = what.iter().map(|w| said(w)).collect();
                let _ = writeln!(out, "{indent}{}: {}", places.join(", "), what.join("; "));
            }
        }
        if self.breaking() == 0 {
            let _ = writeln!(out, "{item}{NOT_BREAKING}");
        }
        out
    }
}

/// How a rendering shows places, changes and groups.
struct Style {
    place: fn(&str) -> String,
    what: fn(&str) -> String,
    heading: fn(&str) -> String,
    indent: &'static str,
    item: &'static str,
}

/// The lines of a group, those with the same changes merged: each list of
/// changes with the places it happened at, in the order first seen.
fn alike(lines: &[Line]) -> Vec<(Vec<&str>, &[String])> {
    let mut out: Vec<(Vec<&str>, &[String])> = Vec::new();
    for line in lines {
        match out
            .iter_mut()
            .find(|(_, what)| *what == line.what.as_slice())
        {
            Some((places, _)) => places.push(&line.place),
            None => out.push((vec![&line.place], &line.what)),
        }
    }
    out
}

/// `Descriptions (3): GET /a summary; B.c description; and 1 more`.
fn compact(group: Group, lines: &[Line], show: fn(&str) -> String) -> String {
    let shown: Vec<String> = lines
        .iter()
        .take(PLACES_SHOWN)
        .map(|l| format!("{} {}", show(&l.place), l.what.join(", ")))
        .collect();
    let more = match lines.len().saturating_sub(PLACES_SHOWN) {
        0 => String::new(),
        n => format!("; and {n} more"),
    };
    format!(
        "{} ({}): {}{more}",
        group.title(),
        lines.len(),
        shown.join("; ")
    )
}

/// `text` as a Markdown code span, which may itself hold backticks
/// (`` GET /a query `limit` ``).
fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// `text` for Markdown: its code spans kept, its quoted values (a
/// pattern, an enum value, as the gate quotes them) made code spans, and
/// outside them the characters Markdown would read as markup escaped (a
/// subject's `Option<T>` is no HTML tag).
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let span = match c {
            '`' => rest[1..]
                .find('`')
                .map(|end| (rest[..end + 2].to_string(), end + 2)),
            '"' => quoted_len(rest).map(|len| (code(&rest[..len]), len)),
            _ => None,
        };
        if let Some((span, len)) = span {
            out.push_str(&span);
            rest = &rest[len..];
            continue;
        }
        // An underscore inside a word is no emphasis: `page_size` stays.
        if matches!(c, '\\' | '*' | '<' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The length of the JSON string literal `text` starts with (quotes
/// included), if it is one.
fn quoted_len(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(at + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn line(place: &str, what: &[&str]) -> Line {
        Line {
            place: place.to_string(),
            what: what.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn places_that_changed_alike_share_a_line() {
        let summary = Summary {
            groups: BTreeMap::from([(
                Group::Headers,
                vec![
                    line("GET /a response 200", &["header ETag added"]),
                    line("GET /b response 200", &["header RateLimit added"]),
                    line("POST /a response 201", &["header ETag added"]),
                ],
            )]),
        };
        assert_eq!(
            summary.text(),
            "Response headers\n  GET /a response 200, POST /a response 201: header ETag added\n  \
             GET /b response 200: header RateLimit added\n\
             Breaking: none (by the rules of `cargo xtask openapi compat`)\n"
        );
    }

    #[test]
    fn markdown_code_spans_survive_backticks_in_places() {
        assert_eq!(code("GET /a"), "`GET /a`");
        assert_eq!(code("GET /a query `limit`"), "`` GET /a query `limit` ``");
    }

    #[test]
    fn markup_is_escaped_outside_code_spans_only() {
        assert_eq!(
            escape_markdown(r#"pattern "^[^\\u0000\"]*$" for `page_size` in Option<T> *now* a_b"#),
            r#"pattern `"^[^\\u0000\"]*$"` for `page_size` in Option\<T> \*now\* a_b"#
        );
        assert_eq!(escape_markdown(r#"a "b"#), r#"a "b"#);
    }
}
