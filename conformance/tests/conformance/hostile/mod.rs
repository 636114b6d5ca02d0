//! Hostile clients: each test here is an attack tried from outside, over
//! HTTP (or, for the database link, over the wire), that must fail against
//! the server. docs/security.md names the threat each one stands for.

mod cheap;
mod cookies;
mod headers;
mod input;
mod signin;
mod streaming;
mod tls;
mod tokens;
