//! The reviewer's summary (`cargo xtask openapi diff`) of representative
//! changes, in the words it prints, and of the real document against the
//! v1 baseline. Every case under `tests/cases` also has its `summary.txt`.

// A test fails by panicking; helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use anitrack_compat::summary::{Group, summarize};
use serde_json::{Value, json};

/// A small API: one operation reading a list of entries.
fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/list": {"get": {
            "operationId": "list_entries",
            "summary": "The list.",
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Entry"}}}}}}}},
        "components": {"schemas": {"Entry": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "integer"},
                "notes": {"type": "string", "description": "Free text."}}}}}
    })
}

fn text(new: &Value) -> String {
    summarize(&document(), new, &[]).text()
}

#[test]
fn an_added_operation_is_named_with_its_operation_id() {
    let mut new = document();
    new["paths"]["/list/changes"] = json!({"get": {
        "operationId": "list_changes",
        "responses": {"200": {"description": "ok"}}}});
    assert_eq!(
        text(&new),
        "Operations\n  GET /list/changes: operation added (`list_changes`)\n\
         Breaking: none (by the rules of `cargo xtask openapi compat`)\n"
    );
}

#[test]
fn an_added_optional_field_says_which_side_and_that_it_is_optional() {
    let mut new = document();
    new["components"]["schemas"]["Entry"]["properties"]["rev"] = json!({"type": "integer"});
    assert_eq!(
        text(&new),
        "Fields\n  Entry.rev: new optional response property\n\
         Breaking: none (by the rules of `cargo xtask openapi compat`)\n"
    );
}

#[test]
fn a_changed_description_says_where_only() {
    let mut new = document();
    new["components"]["schemas"]["Entry"]["properties"]["notes"]["description"] =
        json!("Free text, at most 2000 characters.");
    new["paths"]["/list"]["get"]["summary"] = json!("The whole list.");
    assert_eq!(
        text(&new),
        "Descriptions (2): Entry.notes description; GET /list summary\n\
         Breaking: none (by the rules of `cargo xtask openapi compat`)\n"
    );
}

#[test]
fn a_removed_field_is_breaking_as_the_gate_says() {
    let mut new = document();
    let properties = new["components"]["schemas"]["Entry"]["properties"]
        .as_object_mut()
        .unwrap();
    properties.remove("notes");
    let summary = summarize(&document(), &new, &[]);
    assert_eq!(summary.breaking(), 1);
    assert_eq!(
        anitrack_compat::compare(&document(), &new).findings.len(),
        1,
        "the summary's breaking changes are the gate's findings"
    );
    assert_eq!(
        summary.text(),
        "Breaking (by the rules of `cargo xtask openapi compat`)\n  \
         Entry.notes: property removed from a response (v1 clients expect it) \
         (via GET /list response 200)\n"
    );
}

#[test]
fn markdown_lists_the_groups_and_quotes_places_as_code() {
    let mut new = document();
    new["paths"]["/list"]["get"]["parameters"] =
        json!([{"in": "query", "name": "limit", "schema": {"type": "integer", "maximum": 100}}]);
    new["components"]["schemas"]["Entry"]["properties"]["status"] =
        json!({"type": "string", "enum": ["watching", "completed"]});
    assert_eq!(
        summarize(&document(), &new, &[]).markdown(),
        "- **Parameters and request bodies**\n  \
         - `GET /list`: new optional query parameter `limit`\n\
         - **Fields**\n  - `Entry.status`: new optional response property\n\
         - Breaking: none (by the rules of `cargo xtask openapi compat`)\n"
    );
}

#[test]
fn identical_documents_have_nothing_to_say() {
    let summary = summarize(&document(), &document(), &[]);
    assert!(summary.is_empty());
    assert!(summary.text().starts_with("No change to the API"));
}

/// The committed document against the frozen baseline, with the reviewed
/// corrections: what `cargo xtask openapi compat` passes, the summary
/// calls not breaking, and it lists every excused finding apart.
#[test]
fn the_real_document_against_v1_breaks_nothing_the_gate_does_not_excuse() {
    let (old, new) = (support::baseline(), support::real_document());
    let corrections = support::baseline_corrections();
    let summary = summarize(&old, &new, &corrections);
    assert_eq!(summary.breaking(), 0, "{}", summary.text());
    let report = anitrack_compat::compare(&old, &new);
    let excused = anitrack_compat::corrections::apply(&report, &corrections)
        .excused
        .len();
    let corrected: usize = summary.groups[&Group::Corrected]
        .iter()
        .map(|line| line.what.len())
        .sum();
    assert_eq!(corrected, excused);
    assert!(summary.groups.contains_key(&Group::Operations));
}
