//! libpq's TLS parameters that tokio-postgres does not know.
//!
//! tokio-postgres parses `sslmode` itself but only knows `disable`,
//! `prefer` and `require`, and rejects `sslrootcert` as an unknown option.
//! Operators copy connection strings from libpq tools, so we read `sslmode`
//! and `sslrootcert` out of the string here, in both of libpq's forms (URL
//! and `key=value`), and hand everything else to tokio-postgres untouched.

use std::ops::Range;
use std::path::PathBuf;

/// libpq's `sslmode` (https://www.postgresql.org/docs/current/libpq-ssl.html).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Result<SslMode, String> {
        match value {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            // libpq's "try plain first" has no equivalent in tokio-postgres.
            "allow" => Err("sslmode=allow is not supported; use prefer or require".to_string()),
            other => Err(format!(
                "invalid sslmode {other:?}: use disable, prefer, require, verify-ca or verify-full"
            )),
        }
    }
}

/// libpq's `sslrootcert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file of trusted CA certificates.
    File(PathBuf),
    /// `sslrootcert=system`: the platform's trusted roots.
    System,
}

/// A connection string split into what we handle and what tokio-postgres does.
#[derive(Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// The connection string without `sslmode` and `sslrootcert`.
    pub rest: String,
    /// `None` when the string does not say (libpq's default is `prefer`).
    pub ssl_mode: Option<SslMode>,
    pub root_cert: Option<RootCert>,
}

/// Splits `sslmode` and `sslrootcert` out of a libpq connection string (the
/// last occurrence wins, as in libpq). Errors never quote the string, which
/// may hold a password.
pub fn split(conninfo: &str) -> Result<ConnInfo, String> {
    let mut info = ConnInfo {
        rest: String::new(),
        ssl_mode: None,
        root_cert: None,
    };
    if conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://") {
        // Found the way tokio-postgres finds it: the credentials end at the
        // first `@`, the query starts at the next `?`.
        let after_credentials = conninfo.find('@').map_or(0, |at| at + 1);
        let Some(question) = conninfo[after_credentials..].find('?') else {
            info.rest = conninfo.to_string();
            return Ok(info);
        };
        let query_start = after_credentials + question;
        let mut kept = Vec::new();
        for segment in conninfo[query_start + 1..].split('&') {
            let taken = match segment.split_once('=') {
                Some((key, value)) => info.take(&percent_decode(key)?, || percent_decode(value))?,
                None => false,
            };
            if !taken {
                kept.push(segment);
            }
        }
        info.rest = conninfo[..query_start].to_string();
        if !kept.is_empty() {
            info.rest.push('?');
            info.rest.push_str(&kept.join("&"));
        }
    } else {
        let mut cut = Vec::new();
        for param in keyword_params(conninfo)? {
            let value = param.value;
            if info.take(&param.key, || Ok(value))? {
                cut.push(param.span);
            }
        }
        info.rest = remove_spans(conninfo, &cut);
    }
    Ok(info)
}

impl ConnInfo {
    /// Records `key` if it is one of ours; whether it was.
    fn take(
        &mut self,
        key: &str,
        value: impl FnOnce() -> Result<String, String>,
    ) -> Result<bool, String> {
        match key {
            "sslmode" => self.ssl_mode = Some(SslMode::parse(&value()?)?),
            "sslrootcert" => {
                self.root_cert = Some(match value()?.as_str() {
                    "" => return Err("sslrootcert is empty".to_string()),
                    "system" => RootCert::System,
                    path => RootCert::File(PathBuf::from(path)),
                })
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn percent_decode(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| "a connection URL parameter is not valid UTF-8 once decoded".to_string())
}

struct Param {
    key: String,
    value: String,
    /// Where the whole `key = value` sits in the connection string.
    span: Range<usize>,
}

/// `key = value` pairs, with tokio-postgres' (and libpq's) grammar: values
/// may be single-quoted, and a backslash escapes the next character.
fn keyword_params(conninfo: &str) -> Result<Vec<Param>, String> {
    let mut it = conninfo.char_indices().peekable();
    let position = |it: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        it.peek().map_or(conninfo.len(), |&(i, _)| i)
    };
    let mut params = Vec::new();
    loop {
        while it.next_if(|&(_, c)| c.is_whitespace()).is_some() {}
        let start = position(&mut it);
        while it
            .next_if(|&(_, c)| !c.is_whitespace() && c != '=')
            .is_some()
        {}
        let key_end = position(&mut it);
        if key_end == start {
            return Ok(params);
        }
        let key = conninfo[start..key_end].to_string();
        while it.next_if(|&(_, c)| c.is_whitespace()).is_some() {}
        if it.next_if(|&(_, c)| c == '=').is_none() {
            return Err(format!(
                "invalid connection string: expected `=` after `{key}`"
            ));
        }
        while it.next_if(|&(_, c)| c.is_whitespace()).is_some() {}
        let quoted = it.next_if(|&(_, c)| c == '\'').is_some();
        let mut value = String::new();
        loop {
            match it.peek().map(|&(_, c)| c) {
                None if quoted => {
                    return Err("invalid connection string: unterminated quoted value".to_string());
                }
                None => break,
                Some('\'') if quoted => {
                    it.next();
                    break;
                }
                Some(c) if c.is_whitespace() && !quoted => break,
                Some('\\') => {
                    it.next();
                    if let Some((_, escaped)) = it.next() {
                        value.push(escaped);
                    }
                }
                Some(c) => {
                    it.next();
                    value.push(c);
                }
            }
        }
        if value.is_empty() && !quoted {
            return Err(format!("invalid connection string: `{key}` has no value"));
        }
        params.push(Param {
            key,
            value,
            span: start..position(&mut it),
        });
    }
}

fn remove_spans(text: &str, spans: &[Range<usize>]) -> String {
    let mut rest = String::with_capacity(text.len());
    let mut from = 0;
    for span in spans {
        rest.push_str(&text[from..span.start]);
        from = span.end;
    }
    rest.push_str(&text[from..]);
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(conninfo: &str) -> String {
        split(conninfo).unwrap().rest
    }

    #[test]
    fn url_parameters_are_taken_out_and_the_rest_kept_verbatim() {
        let info = split(
            "postgres://u:p%40ss@db.example:5432/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(info.ssl_mode, Some(SslMode::VerifyFull));
        assert_eq!(
            info.root_cert,
            Some(RootCert::File(PathBuf::from("/etc/ca.pem")))
        );
        assert_eq!(info.rest, "postgres://u:p%40ss@db.example:5432/app");

        assert_eq!(
            rest("postgresql://h/app?application_name=x&sslmode=require&connect_timeout=3"),
            "postgresql://h/app?application_name=x&connect_timeout=3"
        );
        assert_eq!(
            rest("postgres://h/app?sslmode=require&connect_timeout=3"),
            "postgres://h/app?connect_timeout=3"
        );
        assert_eq!(
            rest("postgres://h/app?connect_timeout=3&sslmode=require"),
            "postgres://h/app?connect_timeout=3"
        );
        assert_eq!(rest("postgres://h/app"), "postgres://h/app");
        assert_eq!(split("postgres://h/app").unwrap().ssl_mode, None);
    }

    #[test]
    fn a_question_mark_in_the_password_is_not_the_query() {
        let info = split("postgres://u:a?sslmode=disable@h/app?sslmode=verify-ca").unwrap();
        assert_eq!(info.ssl_mode, Some(SslMode::VerifyCa));
        assert_eq!(info.rest, "postgres://u:a?sslmode=disable@h/app");
    }

    #[test]
    fn the_last_occurrence_wins() {
        let info = split("postgres://h/app?sslmode=verify-full&sslmode=disable").unwrap();
        assert_eq!(info.ssl_mode, Some(SslMode::Disable));
        assert_eq!(info.rest, "postgres://h/app");
    }

    #[test]
    fn keyword_form() {
        let info = split(
            "host=localhost sslmode = verify-full  sslrootcert='/tmp/my ca.pem' password='a b\\'c' dbname=app",
        )
        .unwrap();
        assert_eq!(info.ssl_mode, Some(SslMode::VerifyFull));
        assert_eq!(
            info.root_cert,
            Some(RootCert::File(PathBuf::from("/tmp/my ca.pem")))
        );
        assert_eq!(info.rest, "host=localhost    password='a b\\'c' dbname=app");
        let parsed: tokio_postgres::Config = info.rest.parse().unwrap();
        assert_eq!(parsed.get_password(), Some(&b"a b'c"[..]));
        assert_eq!(parsed.get_dbname(), Some("app"));
    }

    #[test]
    fn sslrootcert_system_and_bad_values() {
        assert_eq!(
            split("postgres://h/app?sslrootcert=system")
                .unwrap()
                .root_cert,
            Some(RootCert::System)
        );
        assert!(split("postgres://h/app?sslmode=allow").is_err());
        assert!(split("postgres://h/app?sslmode=verify_full").is_err());
        assert!(split("postgres://h/app?sslrootcert=").is_err());
        assert!(split("host=h sslmode='unterminated").is_err());
        assert!(split("host=h sslmode").is_err());
    }

    #[test]
    fn errors_do_not_quote_the_connection_string() {
        for bad in [
            "postgres://u:secret@h/app?sslmode=nope",
            "host=h password=secret sslmode='nope",
            "host=h password=secret sslmode=nope",
        ] {
            let error = split(bad).unwrap_err();
            assert!(!error.contains("secret"), "{error}");
        }
    }
}
