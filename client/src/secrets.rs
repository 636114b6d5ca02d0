//! Wire types that carry a secret. They match the document's schemas field
//! for field (the generator is told to use them instead of its own); only
//! their `Debug` differs: the password and the token print as `[redacted]`.

use serde::{Deserialize, Serialize};

const REDACTED: &str = "[redacted]";

/// The body of `POST /auth/token`.
#[derive(Clone, Deserialize, Serialize)]
pub struct TokenIssueRequest {
    /// Shown on your settings page so you can identify the client. Max 120
    /// chars.
    pub device_name: String,
    /// The account's email address.
    pub email: String,
    /// The account's password.
    pub password: String,
}

impl std::fmt::Debug for TokenIssueRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssueRequest")
            .field("device_name", &self.device_name)
            .field("email", &self.email)
            .field("password", &REDACTED)
            .finish()
    }
}

/// A freshly issued token. The plain-text `token` appears in this response
/// only; AniTrack stores just its SHA-256 hash. Store it securely.
#[derive(Clone, Deserialize, Serialize)]
pub struct NewToken {
    /// When the token was issued.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Token id, as listed by `GET /auth/tokens` and revoked by
    /// `DELETE /auth/tokens/{id}`.
    pub id: i64,
    /// The `device_name` the token was issued for.
    pub name: String,
    /// The bearer token (`atk_…`).
    pub token: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("created_at", &self.created_at)
            .field("id", &self.id)
            .field("name", &self.name)
            .field("token", &REDACTED)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_password_or_the_token() {
        let request = TokenIssueRequest {
            device_name: "cli".into(),
            email: "a@b.c".into(),
            password: "hunter2-secret".into(),
        };
        assert!(!format!("{request:?}").contains("hunter2"));
        let token = NewToken {
            created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            id: 1,
            name: "cli".into(),
            token: "atk_plaintextplaintext".into(),
        };
        assert!(!format!("{token:?}").contains("atk_plain"));
    }

    /// The hand-written types must read and write exactly what the
    /// document's schemas say; a field renamed in the spec fails here.
    #[test]
    fn the_types_match_the_documents_schemas() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../../spec/openapi.json")).unwrap();
        let fields = |name: &str| {
            let mut keys: Vec<String> = document["components"]["schemas"][name]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        let request = serde_json::to_value(TokenIssueRequest {
            device_name: String::new(),
            email: String::new(),
            password: String::new(),
        })
        .unwrap();
        let mut keys: Vec<String> = request.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, fields("TokenIssueRequest"));
        let token = serde_json::to_value(NewToken {
            created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            id: 1,
            name: String::new(),
            token: String::new(),
        })
        .unwrap();
        let mut keys: Vec<String> = token.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, fields("NewToken"));
    }
}
