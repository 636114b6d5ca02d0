//! The contract's text rules as the document spells them: `pattern`s
//! (ECMA-262 regular expressions, as OpenAPI 3.0 defines them) for the
//! character rules the server applies to strings.
//!
//! The rules themselves live in the server's validation
//! (`server/src/validate.rs`: `forbidden_character`, trimming, "an empty or
//! blank string is missing"); these patterns restate them for clients, and
//! the server's `validate::pattern_tests` check every pattern against its
//! rule for every character, so the two cannot drift apart. A pattern
//! describes the value as the server keeps it: whatever it matches, the
//! server accepts, and for a text without surrounding whitespace it matches
//! exactly what the server accepts. (The server also trims surrounding
//! whitespace, tabs and line breaks included, before it checks; a pattern
//! does not promise that tolerance.)
//!
//! Each pattern is anchored and uses only explicit `\uXXXX` ranges, never
//! `\s` or `\p{..}`: those mean different things in different regex engines
//! (ECMA-262's `\s` includes U+FEFF, Rust's does not), and an integrator's
//! validator must read the same set as the server.

/// The control characters (Unicode's `Cc`: C0, DEL and C1), as a regex
/// class body. No one-line text may hold them (`char::is_control`).
macro_rules! controls {
    () => {
        "\\u0000-\\u001F\\u007F-\\u009F"
    };
}

/// Control characters and whitespace (Unicode's `White_Space`, which is
/// what the server trims), as a regex class body: a character outside it
/// is visible.
macro_rules! invisible {
    () => {
        "\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000"
    };
}

/// One line of text with at least one visible character: no control
/// character anywhere, and not empty or blank (the server trims, and a
/// blank value is missing). `device_name`, each tag.
pub const VISIBLE_LINE: &str = concat!(
    "^[^",
    controls!(),
    "]*[^",
    invisible!(),
    "][^",
    controls!(),
    "]*$"
);

/// One line of text, possibly empty: no control character. `q` of
/// `GET /anime` (where an empty or blank value counts as not given).
pub const LINE: &str = concat!("^[^", controls!(), "]*$");

/// Free text: no control character but tab, line feed and carriage
/// return. `notes`.
pub const MULTILINE: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

/// Anything but NUL. `password` (kept exactly as sent, never trimmed).
pub const SECRET: &str = "^[^\\u0000]+$";

/// An email address as far as a regular expression can say it: one `@`
/// between a local part and a domain, neither holding whitespace or a
/// control character. The server checks more (see `TokenIssueRequest`):
/// this pattern is a necessary condition, never refusing an address the
/// server accepts.
pub const EMAIL: &str = concat!("^[^@", invisible!(), "]+@[^@", invisible!(), "]+$");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patterns_read_as_their_rules() {
        assert_eq!(
            VISIBLE_LINE,
            r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$"
        );
        assert_eq!(LINE, r"^[^\u0000-\u001F\u007F-\u009F]*$");
        assert!(EMAIL.starts_with(r"^[^@\u0000-\u0020") && EMAIL.ends_with("]+$"));
    }
}
