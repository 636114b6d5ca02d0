//! Limits of the contract that this crate's descriptions state and the
//! server enforces: one home for each number.

/// Active (unrevoked) tokens an account may hold at once. Creating one more
/// (`POST /auth/token`, the settings page, the operator CLI) is refused
/// until one is revoked.
pub const TOKENS_ACTIVE_MAX: u32 = 100;

/// Tokens an account may create per hour (`POST /auth/token` and the
/// settings page together); past it, 429 with the rate-limit headers.
pub const TOKEN_CREATIONS_PER_HOUR: u32 = 20;
