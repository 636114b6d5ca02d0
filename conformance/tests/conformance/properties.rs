//! Property-based checks: random valid and invalid bodies for
//! `POST /auth/token`. Every response is 2xx or a 4xx whose `errors` names
//! exactly the invalid fields, and never a 5xx. Shrunk failures are kept in
//! `proptest-regressions/` and replayed first.

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
        let env = TestEnv::start().await;
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
