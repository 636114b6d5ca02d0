//! Request bodies and responses: what a client sends and what it decodes,
//! by media type, status and header.

use serde_json::Value;

use super::Op;
use crate::checker::{Checker, Side};
use crate::pointer::{child, resolve};
use crate::{Dir, Kind};

impl<'d> Checker<'d> {
    pub(super) fn request_body(&mut self, o: &Op<'d>, n: &Op<'d>) {
        let Some((old_body, old_ptr)) = self.body(Side::Old, o) else {
            if let Some((new_body, new_ptr)) = self.body(Side::New, n) {
                if new_body["required"].as_bool() == Some(true) {
                    self.breaking(new_ptr, "new required request body");
                } else {
                    self.additive(Kind::Parameter, new_ptr, "new optional request body");
                }
            }
            return;
        };
        let Some((new_body, new_ptr)) = self.body(Side::New, n) else {
            self.breaking(old_ptr, "request body removed (v1 clients send it)");
            return;
        };
        if old_body["required"].as_bool() != Some(true)
            && new_body["required"].as_bool() == Some(true)
        {
            self.breaking(
                format!("{new_ptr}/required"),
                "optional request body became required",
            );
        } else if old_body["required"].as_bool() == Some(true)
            && new_body["required"].as_bool() != Some(true)
        {
            self.additive(
                Kind::Parameter,
                new_ptr.clone(),
                "request body no longer required",
            );
        }
        let Some(old_content) = old_body.get("content").and_then(Value::as_object) else {
            return;
        };
        for media in entries(&new_body["content"])
            .into_iter()
            .map(|(media, _)| media)
            .filter(|media| !old_content.contains_key(*media))
        {
            self.additive(
                Kind::Parameter,
                child(&format!("{new_ptr}/content"), media),
                format!("request media type {media} accepted"),
            );
        }
        for (media, old_media) in old_content {
            let old_media_ptr = child(&format!("{old_ptr}/content"), media);
            let Some(new_media) = new_body.get("content").and_then(|c| c.get(media)) else {
                self.breaking(
                    old_media_ptr,
                    format!("request media type {media} no longer accepted"),
                );
                continue;
            };
            let new_media_ptr = child(&format!("{new_ptr}/content"), media);
            if let (Some(os), Some(ns)) = (old_media.get("schema"), new_media.get("schema")) {
                self.top_schema(
                    "request body",
                    (os, &format!("{old_media_ptr}/schema")),
                    (ns, &format!("{new_media_ptr}/schema")),
                    Dir::Request,
                );
            }
        }
    }

    fn body(&mut self, side: Side, op: &Op<'d>) -> Option<(&'d Value, String)> {
        let raw = op.op.get("requestBody")?;
        let site = format!("{}/requestBody", op.ptr);
        match resolve(self.doc(side), raw, &site) {
            Ok(resolved) => Some(resolved),
            Err(reference) => {
                self.unresolved(side, &site, &reference);
                None
            }
        }
    }

    pub(super) fn responses(&mut self, o: &Op<'d>, n: &Op<'d>, op_context: &str) {
        let old_responses = entries(&o.op["responses"]);
        let new_responses = entries(&n.op["responses"]);
        let new_response = |status: &str| {
            new_responses
                .iter()
                .find(|(s, _)| *s == status)
                .map(|(s, r)| (*s, *r))
        };
        let old_success = old_responses.iter().any(|(s, _)| s.starts_with('2'));
        for &(status, old_response) in &old_responses {
            self.context = op_context.to_string();
            let old_ptr = child(&format!("{}/responses", o.ptr), status);
            // The same status, else a range covering it (or covered by it),
            // else `default` for an error status.
            let found = new_response(status)
                .or_else(|| {
                    new_responses
                        .iter()
                        .find(|(s, _)| covers(s, status) || covers(status, s))
                        .copied()
                })
                .or_else(|| new_response("default").filter(|_| !status.starts_with('2')));
            let Some((new_status, new_response)) = found else {
                if status.starts_with('2') {
                    self.breaking(
                        old_ptr,
                        format!("success status {status} removed (v1 clients expect it)"),
                    );
                } else if has_content(self.old, old_response) {
                    self.breaking(
                        old_ptr,
                        format!("response {status} removed (v1 clients decode its body)"),
                    );
                } else {
                    self.additive(
                        Kind::Status,
                        old_ptr,
                        format!("response {status} removed (it had no body)"),
                    );
                }
                continue;
            };
            let new_ptr = child(&format!("{}/responses", n.ptr), new_status);
            self.response(status, (old_response, &old_ptr), (new_response, &new_ptr));
        }
        self.context = op_context.to_string();
        for &(status, _) in &new_responses {
            let pointer = child(&format!("{}/responses", n.ptr), status);
            if old_responses.iter().any(|(s, _)| *s == status) {
                continue;
            }
            if let Some((range, _)) = old_responses.iter().find(|(s, _)| covers(s, status)) {
                self.additive(
                    Kind::Status,
                    pointer,
                    format!("status {status} documented apart from {range}"),
                );
                continue;
            }
            if status.starts_with('3') {
                if status == "304" && gains_a_precondition(o.op, n.op) {
                    self.additive(
                        Kind::Status,
                        pointer,
                        "new status 304 (only to a request with the new precondition)",
                    );
                } else {
                    self.breaking(
                        pointer,
                        format!(
                            "new status {status} (v1 clients treat it as an unexpected response)"
                        ),
                    );
                }
            } else if status.starts_with('2') && old_success {
                self.breaking(
                    pointer,
                    format!(
                        "new success status {status} (v1 clients treat it as an unexpected response)"
                    ),
                );
            } else if !old_responses.iter().any(|(s, _)| covers(status, s)) {
                let message = match status {
                    "default" => "new default response".to_string(),
                    _ => format!("new status {status}"),
                };
                self.additive(Kind::Status, pointer, message);
            }
        }
    }

    fn response(&mut self, status: &str, o: (&'d Value, &str), n: (&'d Value, &str)) {
        let (old, old_ptr) = match resolve(self.old, o.0, o.1) {
            Ok(resolved) => resolved,
            Err(reference) => return self.unresolved(Side::Old, o.1, &reference),
        };
        let (new, new_ptr) = match resolve(self.new, n.0, n.1) {
            Ok(resolved) => resolved,
            Err(reference) => return self.unresolved(Side::New, n.1, &reference),
        };
        let part = format!("response {status}");
        let old_content = old.get("content").and_then(Value::as_object);
        let new_content = new.get("content").and_then(Value::as_object);
        for (media, _) in entries(&new["content"]) {
            if old_content.is_none_or(|c| !c.contains_key(media)) {
                let message = if old_content.is_none_or(|c| c.is_empty()) {
                    format!("response {status} has a body ({media})")
                } else {
                    format!("response {status} media type {media} added")
                };
                self.additive(
                    Kind::Status,
                    child(&format!("{new_ptr}/content"), media),
                    message,
                );
            }
        }
        if let Some(old_content) = old_content {
            for (media, old_media) in old_content {
                let old_media_ptr = child(&format!("{old_ptr}/content"), media);
                let Some(new_media) = new_content.and_then(|c| c.get(media)) else {
                    let message = if new_content.is_none_or(|c| c.is_empty()) {
                        format!("response {status} body removed (v1 clients decode it)")
                    } else {
                        format!("response {status} media type {media} removed")
                    };
                    self.breaking(old_media_ptr, message);
                    continue;
                };
                let new_media_ptr = child(&format!("{new_ptr}/content"), media);
                if let (Some(os), Some(ns)) = (old_media.get("schema"), new_media.get("schema")) {
                    self.top_schema(
                        &part,
                        (os, &format!("{old_media_ptr}/schema")),
                        (ns, &format!("{new_media_ptr}/schema")),
                        Dir::Response,
                    );
                }
            }
        }
        let old_headers = old.get("headers").and_then(Value::as_object);
        let new_headers = new.get("headers").and_then(Value::as_object);
        for (name, _) in entries(&new["headers"]) {
            if old_headers.is_none_or(|h| !h.keys().any(|k| k.eq_ignore_ascii_case(name))) {
                self.additive(
                    Kind::Header,
                    child(&format!("{new_ptr}/headers"), name),
                    format!("header {name} added"),
                );
            }
        }
        for (name, old_header) in old_headers.into_iter().flatten() {
            let old_header_ptr = child(&format!("{old_ptr}/headers"), name);
            let found =
                new_headers.and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)));
            let Some((new_name, new_header)) = found else {
                self.breaking(
                    old_header_ptr,
                    format!("response {status} header {name} removed"),
                );
                continue;
            };
            let new_header_ptr = child(&format!("{new_ptr}/headers"), new_name);
            let (Ok((oh, ohp)), Ok((nh, nhp))) = (
                resolve(self.old, old_header, &old_header_ptr),
                resolve(self.new, new_header, &new_header_ptr),
            ) else {
                self.breaking(new_header_ptr, "cannot resolve a response header");
                continue;
            };
            if let (Some(os), Some(ns)) = (oh.get("schema"), nh.get("schema")) {
                self.top_schema(
                    &format!("{part} header {name}"),
                    (os, &format!("{ohp}/schema")),
                    (ns, &format!("{nhp}/schema")),
                    Dir::Response,
                );
            }
        }
    }
}

/// Request headers that make a read conditional (RFC 9110, 13.1).
const PRECONDITIONS: &[&str] = &["If-None-Match", "If-Modified-Since"];

/// Whether the operation gained an optional precondition header: a `304
/// Not Modified` answers only a request that sends one (RFC 9110, 15.4.5),
/// which a v1 client built before the header existed never does.
fn gains_a_precondition(old: &Value, new: &Value) -> bool {
    let preconditions = |op: &Value, optional_only: bool| -> Vec<String> {
        op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "header" && !(optional_only && p["required"] == true))
            .filter_map(|p| p["name"].as_str())
            .filter(|name| PRECONDITIONS.iter().any(|h| h.eq_ignore_ascii_case(name)))
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let before = preconditions(old, false);
    preconditions(new, true)
        .iter()
        .any(|name| !before.contains(name))
}

/// Whether a status range (`4XX`) covers a status (`404`).
fn covers(range: &str, status: &str) -> bool {
    range.len() == 3
        && range.ends_with("XX")
        && status.len() == 3
        && status != range
        && range.as_bytes()[0] == status.as_bytes()[0]
}

fn has_content(doc: &Value, response: &Value) -> bool {
    resolve(doc, response, "")
        .ok()
        .and_then(|(r, _)| r.get("content"))
        .and_then(Value::as_object)
        .is_some_and(|c| !c.is_empty())
}

/// The members of an object, in order (none for anything else).
fn entries(value: &Value) -> Vec<(&str, &Value)> {
    value
        .as_object()
        .map(|map| map.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn a_status_range_covers_the_statuses_it_names() {
        assert!(covers("4XX", "404"));
        assert!(!covers("4XX", "500") && !covers("404", "4XX") && !covers("4XX", "4XX"));
    }
}
