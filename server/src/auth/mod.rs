//! Credentials: bearer tokens and passwords.

pub mod issue;
pub mod password;
pub mod token;
