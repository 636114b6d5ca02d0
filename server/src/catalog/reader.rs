//! Reads AniList `Media` objects from a file in any of the shapes AniList
//! data comes in, streaming, so memory stays flat however large the file:
//!
//! - a raw GraphQL response: `{"data":{"Page":{"media":[...]}}}` or
//!   `{"data":{"Media":{...}}}`;
//! - a JSON array of Media objects (streamed element by element);
//! - JSON Lines: one Media object, or one GraphQL response, per line (a bad
//!   line is reported and skipped; the next line goes on).

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;

use super::media::Media;

/// Where a record came from, for error reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// 1-based record number within the file.
    pub record: u64,
    /// 1-based line number, for JSON Lines.
    pub line: Option<u64>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line} (record {})", self.record),
            None => write!(f, "record {}", self.record),
        }
    }
}

/// One record read: the Media, or why it could not be read.
pub type Item = (Position, Result<Media, String>);

/// Streams every record of `path` into `sink`; `sink` returns false to stop
/// early. Fails only when the file cannot be read at all (or its JSON
/// structure breaks off, for the single-document shapes).
pub fn read_file(path: &Path, sink: &mut dyn FnMut(Item) -> bool) -> anyhow::Result<()> {
    let file =
        File::open(path).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    read(BufReader::with_capacity(1 << 16, file), sink)
}

pub fn read(mut input: impl BufRead, sink: &mut dyn FnMut(Item) -> bool) -> anyhow::Result<()> {
    let first = loop {
        let buffer = input.fill_buf()?;
        match buffer.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(at) => {
                let byte = buffer[at];
                input.consume(at);
                break Some(byte);
            }
            None if buffer.is_empty() => break None,
            None => {
                let len = buffer.len();
                input.consume(len);
            }
        }
    };
    let mut counter = Counter { record: 0, sink };
    match first {
        None => Ok(()),
        Some(b'[') => read_array(input, &mut counter),
        Some(b'{') => read_objects(input, &mut counter),
        Some(other) => anyhow::bail!(
            "not AniList data: expected a JSON object, array or JSON Lines, found {:?}",
            other as char
        ),
    }
}

struct Counter<'a> {
    record: u64,
    sink: &'a mut dyn FnMut(Item) -> bool,
}

impl Counter<'_> {
    /// Emits the Media objects inside one JSON value; false once the sink
    /// wants no more.
    fn value(&mut self, value: Value, line: Option<u64>) -> bool {
        match unwrap_response(value) {
            Ok(list) => {
                for media in list {
                    if !self.media(media, line) {
                        return false;
                    }
                }
                true
            }
            Err(reason) => self.failure(reason, line),
        }
    }

    fn media(&mut self, value: Value, line: Option<u64>) -> bool {
        self.record += 1;
        let parsed = serde_json::from_value::<Media>(value).map_err(|e| e.to_string());
        (self.sink)((
            Position {
                record: self.record,
                line,
            },
            parsed,
        ))
    }

    fn failure(&mut self, reason: String, line: Option<u64>) -> bool {
        self.record += 1;
        (self.sink)((
            Position {
                record: self.record,
                line,
            },
            Err(reason),
        ))
    }
}

/// The Media objects a value holds: a GraphQL response's `data.Page.media`
/// or `data.Media`, else the value itself.
fn unwrap_response(value: Value) -> Result<Vec<Value>, String> {
    let Value::Object(mut object) = value else {
        return Err("not a JSON object".into());
    };
    if !object.contains_key("data") {
        if object.contains_key("errors") {
            return Err(format!(
                "a GraphQL error response: {}",
                Value::Object(object)["errors"]
            ));
        }
        return Ok(vec![Value::Object(object)]);
    }
    let mut data = object.remove("data").unwrap_or(Value::Null);
    if data.is_null() {
        let errors = object
            .get("errors")
            .map(Value::to_string)
            .unwrap_or_default();
        return Err(format!("a GraphQL response without data {errors}")
            .trim_end()
            .to_string());
    }
    if let Some(media) = data
        .get_mut("Page")
        .and_then(|p| p.get_mut("media"))
        .map(Value::take)
    {
        return match media {
            Value::Array(list) => Ok(list),
            _ => Err("data.Page.media is not an array".into()),
        };
    }
    match data.get_mut("Media").map(Value::take) {
        Some(Value::Null) | None => {
            Err("a GraphQL response without data.Page.media or data.Media".into())
        }
        Some(media) => Ok(vec![media]),
    }
}

fn read_array(input: impl Read, counter: &mut Counter<'_>) -> anyhow::Result<()> {
    struct Each<'a, 'b>(&'a mut Counter<'b>);
    impl<'de> Visitor<'de> for Each<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of AniList Media objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(value) = seq.next_element::<Value>()? {
                if !self.0.value(value, None) {
                    // Drain nothing more: the caller asked to stop.
                    return Ok(());
                }
            }
            Ok(())
        }
    }
    // `read` consumed the leading whitespace only; the '[' is still there.
    let mut deserializer = serde_json::Deserializer::from_reader(input);
    deserializer.deserialize_seq(Each(counter)).map_err(|e| {
        anyhow::anyhow!(
            "the JSON array breaks off after record {}: {e}",
            counter.record
        )
    })
}

fn read_objects(mut input: impl BufRead, counter: &mut Counter<'_>) -> anyhow::Result<()> {
    // JSON Lines if the first line is a complete JSON value by itself.
    let mut first = String::new();
    input.read_line(&mut first)?;
    match serde_json::from_str::<Value>(&first) {
        Ok(value) => {
            if !counter.value(value, Some(1)) {
                return Ok(());
            }
            let mut number = 1;
            for line in input.lines() {
                number += 1;
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let keep_going = match serde_json::from_str::<Value>(&line) {
                    Ok(value) => counter.value(value, Some(number)),
                    Err(e) => counter.failure(format!("not JSON: {e}"), Some(number)),
                };
                if !keep_going {
                    break;
                }
            }
            Ok(())
        }
        Err(_) => {
            // One pretty-printed document (a GraphQL response).
            let value: Value = serde_json::from_reader(first.as_bytes().chain(input))
                .map_err(|e| anyhow::anyhow!("not valid JSON: {e}"))?;
            counter.value(value, None);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str) -> Vec<(String, Result<i64, String>)> {
        let mut out = Vec::new();
        read(text.as_bytes(), &mut |(position, media)| {
            out.push((position.to_string(), media.map(|m| m.id)));
            true
        })
        .unwrap();
        out
    }

    const A: &str = r#"{"id": 1, "title": {"romaji": "A"}}"#;
    const B: &str = r#"{"id": 2, "title": {"romaji": "B"}}"#;

    #[test]
    fn a_page_response() {
        let text = format!(
            "{{\n  \"data\": {{\"Page\": {{\"pageInfo\": {{}}, \"media\": [{A}, {B}]}}}}\n}}"
        );
        let ids: Vec<i64> = collect(&text)
            .into_iter()
            .map(|(_, r)| r.unwrap())
            .collect();
        assert_eq!(ids, [1, 2]);
    }

    #[test]
    fn a_single_media_response() {
        let text = format!("{{\"data\": {{\"Media\": {A}}}}}");
        assert_eq!(collect(&text)[0].1, Ok(1));
    }

    #[test]
    fn an_array_streams_and_reports_bad_elements() {
        let text = format!("  [{A}, {{\"id\": \"x\"}}, {B}]");
        let got = collect(&text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], ("record 1".into(), Ok(1)));
        assert_eq!(got[1].0, "record 2");
        assert!(got[1].1.as_ref().unwrap_err().contains("invalid type"));
        assert_eq!(got[2], ("record 3".into(), Ok(2)));
    }

    #[test]
    fn json_lines_skip_bad_lines_with_their_numbers() {
        let text = format!("{A}\n\n{{broken\n{B}\n{{\"data\":{{\"Media\":{A}}}}}\n");
        let got = collect(&text);
        assert_eq!(got[0], ("line 1 (record 1)".into(), Ok(1)));
        assert_eq!(got[1].0, "line 3 (record 2)");
        assert!(got[1].1.as_ref().unwrap_err().starts_with("not JSON"));
        assert_eq!(got[2], ("line 4 (record 3)".into(), Ok(2)));
        assert_eq!(got[3], ("line 5 (record 4)".into(), Ok(1)));
    }

    #[test]
    fn graphql_errors_are_reported() {
        let got = collect(r#"{"errors": [{"message": "Too Many Requests."}], "data": null}"#);
        assert!(
            got[0].1.as_ref().unwrap_err().contains("GraphQL"),
            "{got:?}"
        );
    }

    #[test]
    fn other_input_is_refused() {
        assert!(read("hello".as_bytes(), &mut |_| true).is_err());
        assert!(read("".as_bytes(), &mut |_| panic!("no records")).is_ok());
    }
}
