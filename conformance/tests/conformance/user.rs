//! `GET /user`.

use crate::support::{TestEnv, is_contract_timestamp, keys, status_json};

#[tokio::test]
async fn the_user_is_the_token_owner_and_nothing_more() {
    let env = TestEnv::start().await;
    let token = env.user_with_token("victor@example.test").await;
    env.user_with_token("walter@example.test").await;

    let user = env
        .client(&token)
        .user_view()
        .send()
        .await
        .expect("user")
        .into_inner();
    assert_eq!(user.email, "victor@example.test");
    assert_eq!(user.name, "Test User");

    let response = env
        .http
        .get(env.url("/api/v1/user"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(response).await;
    assert_eq!(status, 200);
    assert_eq!(
        keys(&body),
        ["created_at", "email", "id", "name"],
        "never a hash or token: {body}"
    );
    assert!(
        is_contract_timestamp(body["created_at"].as_str().unwrap_or("")),
        "{body}"
    );
}
