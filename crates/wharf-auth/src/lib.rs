//! Who is calling, and what they may do.
//!
//! Everything Wharf decides about a caller lives here, as pure functions over
//! data (no I/O, no clock of its own: the time is an argument), so that the
//! API front door and the agent link call the same code:
//!
//! - [`sigv4`]: AWS Signature Version 4, verified. The canonical request is
//!   rebuilt from what arrived (the body hashed here, since the CLI's JSON
//!   calls send no `x-amz-content-sha256`), signed with a key derived from
//!   the secret by date, region and service (cached), and compared in
//!   constant time; requests outside AWS's 15-minute window are refused.
//! - [`identity`]: the principals of a `--credentials` file (users with
//!   access keys, roles with trust policies) and the [`identity::Caller`] a
//!   verified request resolves to.
//! - [`policy`]: IAM's JSON policy language and its evaluation: explicit
//!   deny wins, then an allow, else the implicit deny.
//! - [`sts`]: temporary credentials (AssumeRole, task roles) as sealed
//!   session tokens: the server keeps no table of them, any server holding
//!   the same key accepts them, and they expire on their own.
//! - [`AuthError`]: each refusal, with AWS's error type for the JSON and the
//!   Query protocols.
#![warn(missing_docs)]

pub mod authenticator;
pub mod error;
pub mod hex;
pub mod identity;
pub mod policy;
pub mod sigv4;
pub mod sts;
pub mod time;

pub use authenticator::Authenticator;
pub use error::AuthError;
pub use identity::{Caller, Directory};
