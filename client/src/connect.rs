//! Building a [`Client`]: the base URL, the bearer token (a header marked
//! sensitive, so `Debug` of the client never prints it), a `User-Agent`
//! naming this crate and its version, timeouts, and the opt-in retries.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use crate::{Client, Hooks, RetryPolicy};

/// `anitrack-client/<version>`, the start of every request's `User-Agent`.
pub const USER_AGENT: &str = concat!("anitrack-client/", env!("CARGO_PKG_VERSION"));

/// Connecting gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest silence while a response arrives. Longer than the server's
/// own request timeout (30 s by default), so the server gives up first and
/// says so (a 503) rather than the client cutting a slow answer; a whole
/// `GET /list` may take longer in all, so there is no total timeout unless
/// one is set.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a [`Client`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The base URL is not an `http://` or `https://` URL.
    #[error("the base URL {0:?} is not an http:// or https:// URL")]
    BaseUrl(String),
    /// The token holds characters an HTTP header cannot carry.
    #[error("the token holds characters an HTTP header cannot carry")]
    Token,
    /// The `User-Agent` suffix holds characters an HTTP header cannot carry.
    #[error("the User-Agent suffix {0:?} holds characters an HTTP header cannot carry")]
    UserAgent(String),
    /// `reqwest` could not build its client (its TLS backend, say).
    #[error("building the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

/// A [`Client`] to be built; see [`Client::builder`].
pub struct ClientBuilder {
    base_url: String,
    token: Option<String>,
    user_agent_suffix: Option<String>,
    retry: Option<RetryPolicy>,
    connect_timeout: Duration,
    read_timeout: Duration,
    timeout: Option<Duration>,
    http: Option<reqwest::ClientBuilder>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("retry", &self.retry)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The server's base URL, e.g. `http://127.0.0.1:8080` (a trailing `/`
    /// or `/api/v1` is allowed).
    pub fn new(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            token: None,
            user_agent_suffix: None,
            retry: None,
            connect_timeout: CONNECT_TIMEOUT,
            read_timeout: READ_TIMEOUT,
            timeout: None,
            http: None,
        }
    }

    /// Sends `Authorization: Bearer <token>` with every request. Without
    /// it the client can only call `POST /auth/token`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Your integration's product token, e.g. `my-sync/2.1`, sent after
    /// this crate's: `User-Agent: anitrack-client/0.1.0 my-sync/2.1`.
    pub fn user_agent_suffix(mut self, product: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(product.into());
        self
    }

    /// Retries 429 and 503 answers as `policy` says (see [`RetryPolicy`]
    /// for which requests are sent again). Off unless set.
    pub fn retries(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// How long connecting may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest wait for the next bytes of an answer (default 60 s).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The longest a whole request may take, answer included (default:
    /// none; see [`ClientBuilder::read_timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Starts from a `reqwest::ClientBuilder` of your own (a proxy, a local
    /// address, root certificates); the settings above are applied on top.
    pub fn http(mut self, http: reqwest::ClientBuilder) -> Self {
        self.http = Some(http);
        self
    }

    pub fn build(self) -> Result<Client, BuildError> {
        let base_url = base_url(&self.base_url)?;
        let mut headers = HeaderMap::new();
        if let Some(token) = &self.token {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| BuildError::Token)?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let user_agent = match &self.user_agent_suffix {
            Some(suffix) => format!("{USER_AGENT} {suffix}"),
            None => USER_AGENT.to_string(),
        };
        let user_agent = HeaderValue::from_str(&user_agent)
            .map_err(|_| BuildError::UserAgent(self.user_agent_suffix.unwrap_or_default()))?;
        let mut http = self
            .http
            .unwrap_or_default()
            .default_headers(headers)
            .user_agent(user_agent)
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout);
        if let Some(timeout) = self.timeout {
            http = http.timeout(timeout);
        }
        let http = http.build().map_err(BuildError::Http)?;
        let hooks = self.retry.map(Hooks::retrying).unwrap_or_default();
        Ok(Client::new_with_client(&base_url, http, hooks))
    }
}

/// The generated client joins the base URL and `/api/v1/...` as text: no
/// trailing `/`, and no `/api/v1` of its own.
fn base_url(given: &str) -> Result<String, BuildError> {
    let trimmed = given.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api/v1").unwrap_or(trimmed);
    match reqwest::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(trimmed.to_string())
        }
        _ => Err(BuildError::BaseUrl(given.to_string())),
    }
}

impl Client {
    /// A client for the server at `base_url` sending `token` as its bearer
    /// token, with this crate's `User-Agent` and timeouts, and no retries
    /// (see [`Client::builder`] for those).
    pub fn with_token(base_url: &str, token: &str) -> Result<Client, BuildError> {
        ClientBuilder::new(base_url).token(token).build()
    }

    /// A client to configure: token, `User-Agent` suffix, retries,
    /// timeouts.
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[test]
    fn base_urls_are_normalised_and_checked() {
        for (given, expected) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("https://api.example/api/v1/", "https://api.example"),
            ("https://example/anitrack", "https://example/anitrack"),
        ] {
            assert_eq!(base_url(given).unwrap(), expected, "{given}");
        }
        for bad in ["127.0.0.1:8080", "ftp://example", "", "http://"] {
            assert!(
                matches!(base_url(bad), Err(BuildError::BaseUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_token_never_shows_in_debug_or_errors() {
        let secret = "atk_0123456789abcdefghijklmnopqrstuv";
        let client = Client::with_token("http://127.0.0.1:9", secret).unwrap();
        assert!(!format!("{client:?}").contains(secret));
        let builder = Client::builder("http://127.0.0.1:9").token(secret);
        assert!(!format!("{builder:?}").contains(secret));
        let error = Client::with_token("http://127.0.0.1:9", "atk_bad\nline").unwrap_err();
        assert!(matches!(error, BuildError::Token));
        assert!(!error.to_string().contains("atk_bad"));
    }

    /// The request head a client sends, read off a TCP socket: the API
    /// logs no header, so this is where the `User-Agent` can be seen.
    #[tokio::test]
    async fn requests_carry_the_user_agent_and_the_bearer_token() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let client = Client::builder(&base)
            .token("atk_head")
            .user_agent_suffix("readme-example/1.0")
            .build()
            .unwrap();
        let call = tokio::spawn(async move { client.user_view().send().await.map(|_| ()) });
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buffer = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = socket.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the connection closed mid-head");
            head.extend_from_slice(&buffer[..read]);
        }
        socket
            .write_all(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                  content-length: 33\r\n\r\n{\"message\":\"Service Unavailable\"}",
            )
            .await
            .unwrap();
        let head = String::from_utf8(head).unwrap().to_lowercase();
        let version = env!("CARGO_PKG_VERSION");
        assert!(head.starts_with("get /api/v1/user http/1.1\r\n"), "{head}");
        assert!(
            head.contains(&format!(
                "\r\nuser-agent: anitrack-client/{version} readme-example/1.0\r\n"
            )),
            "{head}"
        );
        assert!(
            head.contains("\r\nauthorization: bearer atk_head\r\n"),
            "{head}"
        );
        // Retries are off by default: the 503 is the answer.
        let answer = call.await.unwrap();
        assert_eq!(
            answer.unwrap_err().status(),
            Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)
        );
    }
}
