//! Credentials: bearer tokens and passwords.

pub mod bearer;
pub mod issue;
pub mod password;
pub mod sessions;
pub mod signing;
pub mod throttle;
pub mod token;
pub mod tokens;
