//! Credentials: bearer tokens and passwords.

pub mod bearer;
pub mod issue;
pub mod password;
pub mod throttle;
pub mod token;
