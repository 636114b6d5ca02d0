//! The operator CLI, `anitrack-server`: its interface is public, so its
//! messages and exit codes are part of the contract with operators.

use anitrack_conformance::harness::cli;

use crate::support::{PASSWORD, TestEnv};

#[tokio::test]
async fn token_create_prints_the_token_alone_on_the_last_line() {
    let env = TestEnv::start().await;
    env.create_user("cli.token@example.test", "Cli", true).await;
    let out = env
        .cli(
            &[
                "token",
                "create",
                "--email",
                "cli.token@example.test",
                "--name",
                "laptop",
            ],
            None,
        )
        .await;
    assert!(out.success, "{}", out.stderr);
    let last = out.stdout.lines().last().expect("output");
    assert!(last.starts_with("atk_") && last.len() == 40, "{last:?}");
    let user = env
        .client(last)
        .user_view()
        .send()
        .await
        .expect("token works")
        .into_inner();
    assert_eq!(user.email, "cli.token@example.test");
    let tokens = env
        .client(last)
        .token_list()
        .send()
        .await
        .expect("list")
        .into_inner();
    assert_eq!(tokens.data[0].name, "laptop");
}

#[tokio::test]
async fn bad_input_and_failures_exit_non_zero_with_a_clear_message() {
    let env = TestEnv::start().await;
    env.create_user("taken@example.test", "Taken", true).await;

    let cases: Vec<(Vec<&str>, Option<String>, &str)> = vec![
        (
            vec![
                "user",
                "create",
                "--email",
                "TAKEN@example.test",
                "--name",
                "Again",
                "--password-stdin",
            ],
            Some(format!("{PASSWORD}\n")),
            "already exists",
        ),
        (
            vec![
                "user",
                "create",
                "--email",
                "not-an-email",
                "--name",
                "X",
                "--password-stdin",
            ],
            Some(format!("{PASSWORD}\n")),
            "not a valid email address",
        ),
        (
            vec![
                "user",
                "create",
                "--email",
                "empty@example.test",
                "--name",
                "X",
                "--password-stdin",
            ],
            Some(String::new()),
            "password",
        ),
        (
            vec![
                "user",
                "api-access",
                "--email",
                "ghost@example.test",
                "--enable",
            ],
            None,
            "no account",
        ),
        (
            vec![
                "token",
                "create",
                "--email",
                "ghost@example.test",
                "--name",
                "x",
            ],
            None,
            "no account",
        ),
    ];
    for (args, stdin, expected) in cases {
        let out = env.cli(&args, stdin.as_deref()).await;
        assert!(!out.success, "{args:?} should fail");
        assert!(
            out.stderr.contains(expected),
            "{args:?}: stderr {:?} lacks {expected:?}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
    }
}

#[tokio::test]
async fn usage_errors_are_refused_by_the_parser() {
    for args in [
        vec!["user", "api-access", "--email", "a@example.test"],
        vec![
            "user",
            "api-access",
            "--email",
            "a@example.test",
            "--enable",
            "--disable",
        ],
        vec!["user", "create", "--email", "a@example.test", "--name", "x"],
        vec!["serve", "--bind", "not-an-address"],
    ] {
        let out = cli(Some("postgres://127.0.0.1:1/x"), &args, None)
            .await
            .expect("run");
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
    }
}

#[tokio::test]
async fn an_unreachable_database_is_reported_without_its_password() {
    let started = std::time::Instant::now();
    let out = cli(
        Some("postgres://someone:s3cret-pw@127.0.0.1:1/anitrack"),
        &["migrate"],
        None,
    )
    .await
    .expect("run");
    assert!(!out.success);
    assert!(out.stderr.contains("127.0.0.1:1"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("s3cret-pw"),
        "password leaked: {}",
        out.stderr
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );

    let out = cli(None, &["migrate"], None).await.expect("run");
    assert!(!out.success);
    assert!(out.stderr.contains("DATABASE_URL"), "{}", out.stderr);
}

#[tokio::test]
async fn help_explains_every_command() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["user", "create", "--help"],
        vec!["user", "api-access", "--help"],
        vec!["token", "create", "--help"],
    ] {
        let out = cli(None, &args, None).await.expect("run");
        assert!(out.success, "{args:?}: {}", out.stderr);
        assert!(out.stdout.contains("Usage:"), "{args:?}: {}", out.stdout);
    }
    let out = cli(None, &["--help"], None).await.expect("run");
    for word in ["serve", "migrate", "user", "token", "--database-url"] {
        assert!(
            out.stdout.contains(word),
            "--help lacks {word}: {}",
            out.stdout
        );
    }
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let env = TestEnv::start().await;
    let out = env.cli(&["migrate"], None).await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("up to date"), "{}", out.stdout);
}

#[tokio::test]
async fn serve_stops_gracefully_on_sigterm() {
    let env = TestEnv::start().await;
    let mut server = anitrack_conformance::harness::Server::start(&env.database_url, &[])
        .await
        .expect("server");
    let status = server
        .terminate(std::time::Duration::from_secs(10))
        .await
        .expect("exits");
    assert!(
        status.success(),
        "exit status {status}: {}",
        server.log_text()
    );
    assert!(
        server.log_text().contains("stopped"),
        "{}",
        server.log_text()
    );
}

#[tokio::test]
async fn a_log_that_is_not_a_terminal_carries_no_colour_codes() {
    // The harness reads the server's standard error through a pipe, as a
    // log collector would.
    let env = TestEnv::start().await;
    assert_eq!(
        reqwest::get(env.url("/health"))
            .await
            .expect("health")
            .status(),
        200
    );
    let log = env.server.log_text();
    assert!(log.contains("listening"), "{log}");
    assert!(!log.contains('\u{1b}'), "escape codes in the log: {log:?}");
}
