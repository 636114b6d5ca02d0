//! Property-based checks: random valid and invalid bodies for
//! `POST /auth/token` (48 cases), `POST /list` and `PATCH /list/{entryId}`
//! (2,000 cases each; `ANITRACK_PROPTEST_CASES` overrides). No answer is a
//! 5xx: a valid body gets the contract's success (a token only for the
//! registered account's credentials, else the credentials 422; a PATCH
//! ignores the fields it does not own), an invalid one a 422 whose `errors`
//! names exactly the invalid fields.
//!
//! The generated bodies are sent raw: they hold wrong JSON types, explicit
//! nulls and missing fields, which the client's types cannot; so is the
//! PATCH that resets the entry between cases, whose nulls clear fields. The
//! rest (the anime's id, the entry to patch, deleting a created entry) goes
//! through the client.
//!
//! Shrunk failures are kept in `properties.proptest-regressions` beside
//! this file and replayed first.

use anitrack_client::types::ListStatus;
use anitrack_conformance::world::{DEMON_SLAYER, World, new_entry};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use crate::support::{PASSWORD, TestEnv};

/// One field of a generated body, and whether the contract accepts it.
#[derive(Clone, Debug)]
enum Field {
    Absent,
    Valid(Value),
    Invalid(Value),
}

/// `blank`: strings the contract reads as missing (empty, or blank for
/// trimmed fields; passwords are not trimmed).
fn text_field(
    valid: BoxedStrategy<String>,
    blank: BoxedStrategy<String>,
    max: usize,
) -> impl Strategy<Value = Field> {
    prop_oneof![
        Just(Field::Absent),
        valid.prop_map(|s| Field::Valid(json!(s))),
        Just(Field::Invalid(Value::Null)),
        blank.prop_map(|s| Field::Invalid(json!(s))),
        any::<i64>().prop_map(|n| Field::Invalid(json!(n))),
        any::<bool>().prop_map(|b| Field::Invalid(json!(b))),
        Just(Field::Invalid(json!(["a"]))),
        Just(Field::Invalid(json!({"a": 1}))),
        Just(Field::Invalid(json!("x".repeat(max + 1)))),
    ]
}

/// Arbitrary Unicode without surrounding whitespace, 1..=120 characters.
fn device_name() -> BoxedStrategy<String> {
    "\\PC{1,120}"
        .prop_filter("not blank after trimming", |s| !s.trim().is_empty())
        .prop_map(|s| s.trim().to_string())
        .boxed()
}

fn trimmed_blank() -> BoxedStrategy<String> {
    "[ \t]{0,3}".boxed()
}

fn email() -> BoxedStrategy<String> {
    prop_oneof![
        Just("prop@example.test".to_string()),
        "[a-z]{1,10}\\.[a-z]{1,10}@[a-z]{1,8}\\.test",
    ]
    .boxed()
}

fn password() -> BoxedStrategy<String> {
    prop_oneof![Just(PASSWORD.to_string()), "\\PC{1,40}"].boxed()
}

fn body() -> impl Strategy<Value = (Field, Field, Field, Option<(String, Value)>)> {
    let not_email = prop_oneof![
        Just("plainaddress"),
        Just("a@"),
        Just("@b.c"),
        Just("a b@c.d")
    ]
    .prop_map(|s| Field::Invalid(json!(s)));
    (
        prop_oneof![4 => text_field(email(), trimmed_blank(), 255), 1 => not_email],
        text_field(password(), Just(String::new()).boxed(), 4096),
        text_field(device_name(), trimmed_blank(), 120),
        proptest::option::of(("[a-z_]{1,12}", any::<i64>().prop_map(|n| json!(n)))),
    )
}

fn build(fields: &[(&str, &Field)], extra: &Option<(String, Value)>) -> (Value, Vec<String>) {
    let mut object = Map::new();
    let mut invalid = Vec::new();
    if let Some((name, value)) = extra {
        object.insert(name.clone(), value.clone());
    }
    for (name, field) in fields {
        match field {
            Field::Absent => invalid.push(name.to_string()),
            Field::Valid(value) => {
                object.insert(name.to_string(), value.clone());
            }
            Field::Invalid(value) => {
                object.insert(name.to_string(), value.clone());
                invalid.push(name.to_string());
            }
        }
    }
    invalid.sort();
    (Value::Object(object), invalid)
}

#[test]
fn token_issue_answers_every_body_by_the_contract() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let env = runtime.block_on(async {
        // Far above the 5/min issuance limit, which has its own tests.
        let unthrottled = [("ANITRACK_TOKEN_RATE_LIMIT_PER_MINUTE", "1000000")];
        let env =
            TestEnv::start_configured(anitrack_conformance::harness::Catalog::Demo, &unthrottled)
                .await;
        env.create_user("prop@example.test", "Prop", true).await;
        env
    });
    let config = Config {
        cases: 48,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&body(), |(email, password, device, extra)| {
        let fields = [
            ("email", &email),
            ("password", &password),
            ("device_name", &device),
        ];
        let (body, invalid) = build(&fields, &extra);
        // Sent raw: generated bodies hold nulls, wrong types and missing
        // fields, which the client's TokenIssueRequest cannot.
        let (status, answer) = runtime.block_on(async {
            let response = env
                .http
                .post(env.url("/api/v1/auth/token"))
                .json(&body)
                .send()
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let status = response.status().as_u16();
            let answer: Value = response
                .json()
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            Ok::<_, TestCaseError>((status, answer))
        })?;
        prop_assert!(status < 500, "{body} -> {status} {answer}");
        if invalid.is_empty() {
            let registered =
                body["email"] == json!("prop@example.test") && body["password"] == json!(PASSWORD);
            if registered {
                prop_assert_eq!(status, 201, "{} -> {}", body, answer);
                prop_assert_eq!(&answer["name"], &body["device_name"]);
            } else {
                prop_assert_eq!(status, 422, "{} -> {}", body, answer);
                prop_assert_eq!(
                    &answer["errors"],
                    &json!({"email": ["The provided credentials are incorrect."]})
                );
            }
        } else {
            prop_assert_eq!(status, 422, "{} -> {}", body, answer);
            let mut named: Vec<String> = answer["errors"]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            named.sort();
            prop_assert_eq!(named, invalid, "{} -> {}", body, answer);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// A list-entry body field and the error keys it must produce (none when
/// valid). `key` is usually the field name, `tags.N` for a bad tag.
#[derive(Clone, Debug)]
enum Sent {
    Absent,
    Valid(Value),
    Invalid(Value, Vec<String>),
}

fn invalid_as(field: &str, value: Value) -> Sent {
    Sent::Invalid(value, vec![field.to_string()])
}

fn wrong_types(field: &'static str) -> impl Strategy<Value = Sent> {
    prop_oneof![
        Just(json!("12")),
        Just(json!(1.5)),
        Just(json!(true)),
        Just(json!([1])),
        Just(json!({"a": 1})),
    ]
    .prop_map(move |v| invalid_as(field, v))
}

/// `above`: whether values over the range are refused (a field without an
/// upper bound generates larger valid values instead).
fn integer_field(
    field: &'static str,
    valid: std::ops::RangeInclusive<i64>,
    above: bool,
    nullable: bool,
) -> BoxedStrategy<Sent> {
    let (lo, hi) = (*valid.start(), *valid.end());
    let over = (hi + 1..hi + 1000).prop_map(move |n| {
        if above {
            invalid_as(field, json!(n))
        } else {
            Sent::Valid(json!(n))
        }
    });
    let mut options: Vec<BoxedStrategy<Sent>> = vec![
        Just(Sent::Absent).boxed(),
        valid.prop_map(|n| Sent::Valid(json!(n))).boxed(),
        over.boxed(),
        wrong_types(field).boxed(),
    ];
    if lo > i64::MIN {
        options.push(
            (lo - 1000..lo)
                .prop_map(move |n| invalid_as(field, json!(n)))
                .boxed(),
        );
    }
    options.push(if nullable {
        Just(Sent::Valid(Value::Null)).boxed()
    } else {
        Just(invalid_as(field, Value::Null)).boxed()
    });
    proptest::strategy::Union::new(options).boxed()
}

fn boolean_field(field: &'static str) -> BoxedStrategy<Sent> {
    prop_oneof![
        Just(Sent::Absent),
        any::<bool>().prop_map(|b| Sent::Valid(json!(b))),
        prop_oneof![
            Just(Value::Null),
            Just(json!(0)),
            Just(json!("true")),
            Just(json!([]))
        ]
        .prop_map(move |v| invalid_as(field, v)),
    ]
    .boxed()
}

/// Dates: `started_at` in 2020, `completed_at` in 2021, so valid ones are in order.
fn date_field(field: &'static str, year: i32) -> BoxedStrategy<Sent> {
    prop_oneof![
        Just(Sent::Absent),
        Just(Sent::Valid(Value::Null)),
        (1u32..=12, 1u32..=28)
            .prop_map(move |(m, d)| Sent::Valid(json!(format!("{year}-{m:02}-{d:02}")))),
        prop_oneof![
            Just(json!(format!("{year}-02-30"))),
            Just(json!(format!("{year}/01/01"))),
            Just(json!(format!("{year}-1-1"))),
            Just(json!(20200101)),
            Just(json!("yesterday")),
        ]
        .prop_map(move |v| invalid_as(field, v)),
    ]
    .boxed()
}

fn notes_field() -> BoxedStrategy<Sent> {
    prop_oneof![
        Just(Sent::Absent),
        Just(Sent::Valid(Value::Null)),
        "\\PC{0,300}".prop_map(|s| Sent::Valid(json!(s))),
        (2001usize..2100).prop_map(|n| invalid_as("notes", json!("ñ".repeat(n)))),
        prop_oneof![Just(json!(5)), Just(json!(["a"]))].prop_map(|v| invalid_as("notes", v)),
    ]
    .boxed()
}

fn tag() -> impl Strategy<Value = (Value, bool)> {
    prop_oneof![
        6 => "\\PC{1,50}".prop_filter("not blank", |s| !s.trim().is_empty()).prop_map(|s| (json!(s), true)),
        1 => "[ ]{0,3}".prop_map(|s| (json!(s), false)),
        1 => Just((json!("t".repeat(51)), false)),
        1 => Just((json!(7), false)),
    ]
}

fn tags_field() -> BoxedStrategy<Sent> {
    prop_oneof![
        Just(Sent::Absent),
        proptest::collection::vec(tag(), 0..=25).prop_map(|items| {
            let bad: Vec<String> = items
                .iter()
                .enumerate()
                .filter(|(_, (_, ok))| !ok)
                .map(|(i, _)| format!("tags.{i}"))
                .collect();
            let values = Value::Array(items.into_iter().map(|(v, _)| v).collect());
            if bad.is_empty() {
                Sent::Valid(values)
            } else {
                Sent::Invalid(values, bad)
            }
        }),
        (26usize..40).prop_map(|n| invalid_as("tags", json!(vec!["t"; n]))),
        prop_oneof![
            Just(Value::Null),
            Just(json!("a,b")),
            Just(json!({"0": "a"}))
        ]
        .prop_map(|v| invalid_as("tags", v)),
    ]
    .boxed()
}

fn status_field(required: bool) -> BoxedStrategy<Sent> {
    let valid = prop_oneof![
        Just("watching"),
        Just("completed"),
        Just("on_hold"),
        Just("dropped"),
        Just("plan_to_watch")
    ]
    .prop_map(|s| Sent::Valid(json!(s)));
    let invalid = prop_oneof![
        Just(json!("paused")),
        Just(json!("Watching")),
        Just(json!(1)),
        Just(json!(["watching"]))
    ]
    .prop_map(|v| invalid_as("status", v));
    let missing = if required {
        Just(invalid_as("status", Value::Null)).boxed()
    } else {
        Just(Sent::Absent).boxed()
    };
    let null = Just(invalid_as("status", Value::Null));
    prop_oneof![4 => valid, 1 => invalid, 1 => missing, 1 => null].boxed()
}

/// The fields of a generated body, in order.
type Fields = Vec<(&'static str, Sent)>;

fn entry_fields(creating: bool) -> impl Strategy<Value = Fields> {
    (
        status_field(creating),
        integer_field("score", 0..=100, true, true),
        integer_field("progress", 0..=26, true, false),
        date_field("started_at", 2020),
        date_field("completed_at", 2021),
        notes_field(),
        boolean_field("is_private"),
        boolean_field("is_rewatching"),
        integer_field("rewatch_count", 0..=1000, false, false),
        tags_field(),
        any::<bool>(),
    )
        .prop_map(
            |(
                status,
                score,
                progress,
                started,
                completed,
                notes,
                private,
                rewatching,
                count,
                tags,
                swap,
            )| {
                // Sometimes send the dates swapped, so completion precedes start.
                let (started, completed) = match (swap, &started, &completed) {
                    (true, Sent::Valid(s), Sent::Valid(c)) if !s.is_null() && !c.is_null() => (
                        Sent::Valid(c.clone()),
                        Sent::Invalid(s.clone(), vec!["completed_at".into()]),
                    ),
                    _ => (started, completed),
                };
                vec![
                    ("status", status),
                    ("score", score),
                    ("progress", progress),
                    ("started_at", started),
                    ("completed_at", completed),
                    ("notes", notes),
                    ("is_private", private),
                    ("is_rewatching", rewatching),
                    ("rewatch_count", count),
                    ("tags", tags),
                ]
            },
        )
}

fn to_body(fields: &Fields) -> (Map<String, Value>, Vec<String>) {
    let mut object = Map::new();
    let mut invalid = Vec::new();
    for (name, sent) in fields {
        match sent {
            Sent::Absent => {}
            Sent::Valid(value) => {
                object.insert(name.to_string(), value.clone());
            }
            Sent::Invalid(value, keys) => {
                object.insert(name.to_string(), value.clone());
                invalid.extend(keys.iter().cloned());
            }
        }
    }
    (object, invalid)
}

fn error_keys(answer: &Value) -> Vec<String> {
    let mut keys: Vec<String> = answer["errors"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

fn list_runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..Config::default()
    })
}

/// Cases per list property; `ANITRACK_PROPTEST_CASES` overrides.
fn list_cases() -> u32 {
    std::env::var("ANITRACK_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

#[test]
fn list_create_answers_every_body_by_the_contract() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let world = runtime.block_on(World::unthrottled());
    let anime_id = runtime.block_on(world.anime(DEMON_SLAYER));
    let client = world.client();
    let anime = prop_oneof![
        6 => Just(Sent::Valid(json!(anime_id))),
        1 => Just(invalid_as("anime_id", json!(987_654_321))),
        1 => Just(Sent::Invalid(Value::Null, vec!["anime_id".into()])),
        1 => wrong_types("anime_id"),
    ];
    let result = list_runner(list_cases()).run(&(anime, entry_fields(true)), |(anime, fields)| {
        let (mut body, mut invalid) = to_body(&fields);
        match &anime {
            Sent::Valid(v) | Sent::Invalid(v, _) if !v.is_null() => {
                body.insert("anime_id".into(), v.clone());
            }
            _ => {}
        }
        if let Sent::Invalid(_, keys) = &anime {
            invalid.extend(keys.iter().cloned());
        }
        // Progress above the episode count (26) is only known to be too much
        // once the anime is known.
        let over_count = fields.iter().any(|(n, sent)| {
            *n == "progress"
                && matches!(sent, Sent::Invalid(v, _) if v.as_i64().is_some_and(|p| p > 26))
        });
        if over_count && !matches!(anime, Sent::Valid(_)) {
            invalid.retain(|k| k != "progress");
        }
        invalid.sort();
        invalid.dedup();
        let body = Value::Object(body);
        // Generated bodies hold wrong types and explicit nulls: raw.
        let (status, answer) = runtime.block_on(world.post_list_json(&body));
        prop_assert!(status < 500, "{} -> {} {}", body, status, answer);
        if invalid.is_empty() {
            prop_assert_eq!(status, 201, "{} -> {}", body, answer);
            let id = answer["id"]
                .as_i64()
                .ok_or_else(|| TestCaseError::fail(format!("{body} -> {answer}: no id")))?;
            // Off the list again, so that the next case can add the anime.
            // The client answers Ok only for the contract's 204.
            let deleted = runtime.block_on(client.list_entry_delete().entry_id(id).send());
            prop_assert!(deleted.is_ok(), "DELETE /list/{}: {:?}", id, deleted);
        } else {
            prop_assert_eq!(status, 422, "{} -> {}", body, answer);
            prop_assert_eq!(error_keys(&answer), invalid, "{} -> {}", body, answer);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn list_update_answers_every_body_by_the_contract() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let world = runtime.block_on(World::unthrottled());
    let anime_id = runtime.block_on(world.anime(DEMON_SLAYER));
    let entry = runtime.block_on(world.add(new_entry(anime_id, ListStatus::Watching)));
    // Sent raw: the cases hold wrong JSON types and fields PATCH does not
    // own, which the client's ListEntryPatch cannot send.
    let baseline = json!({
        "status": "watching", "score": null, "progress": 0, "started_at": null, "completed_at": null,
        "notes": null, "is_private": false, "is_rewatching": false, "rewatch_count": 0, "tags": [],
    });
    let result = list_runner(list_cases()).run(&entry_fields(false), |fields| {
        let (mut body, mut invalid) = to_body(&fields);
        // Fields PATCH does not own are ignored, whatever their value.
        body.insert("anime_id".into(), json!("not even a number"));
        body.insert("id".into(), json!(-1));
        invalid.sort();
        invalid.dedup();
        let body = Value::Object(body);
        let (reset, reset_body) = runtime.block_on(world.patch_json(entry.id, &baseline));
        prop_assert_eq!(reset, 200, "{}", reset_body);
        // Generated bodies hold wrong types and explicit nulls: raw.
        let (status, answer) = runtime.block_on(world.patch_json(entry.id, &body));
        prop_assert!(status < 500, "{} -> {} {}", body, status, answer);
        if invalid.is_empty() {
            prop_assert_eq!(status, 200, "{} -> {}", body, answer);
            prop_assert_eq!(&answer["anime_id"], &json!(anime_id));
        } else {
            prop_assert_eq!(status, 422, "{} -> {}", body, answer);
            prop_assert_eq!(error_keys(&answer), invalid, "{} -> {}", body, answer);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
