//! Temporary credentials, sealed: an access key id (`ASIA...`), a secret
//! derived from it under the server's key, and a session token that carries
//! the role, the session's name, its expiry and (for a task role) the task,
//! authenticated by an HMAC under the same key. The server keeps no table
//! of sessions: it re-derives the secret and checks the seal. Rotating the
//! key revokes every session at once.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::AuthError;

/// The prefix of every session token Wharf issues.
const TOKEN_PREFIX: &str = "WharfSession1.";

/// Mints and opens session tokens under one 32-byte key.
#[derive(Clone)]
pub struct Issuer {
    key: [u8; 32],
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issuer { key: <redacted> }")
    }
}

/// What a session token says, once its seal is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The temporary access key id the token belongs to.
    pub access_key_id: String,
    /// The role assumed.
    pub role_arn: String,
    /// `RoleSessionName` (for a task role: the task id).
    pub session_name: String,
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// The task these are the role credentials of, if any.
    pub task_arn: Option<String>,
}

/// Credentials as STS hands them out. `Debug` hides the secret and token.
#[derive(Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    /// `ASIA...`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// The session token (`X-Amz-Security-Token`).
    pub session_token: String,
    /// Expiry, Unix seconds.
    pub expiration: i64,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    ak: String,
    role: String,
    session: String,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task: Option<String>,
}

impl Issuer {
    /// An issuer under `key` (32 random bytes, kept by the server).
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self, purpose: &[u8], data: &[u8]) -> [u8; 32] {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => return [0; 32],
        };
        mac.update(purpose);
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The secret of a temporary access key id.
    pub fn secret_for(&self, access_key_id: &str) -> String {
        STANDARD_NO_PAD.encode(&self.mac(b"secret", access_key_id.as_bytes())[..30])
    }

    /// Mints credentials for `role_arn` until `expires` (Unix seconds);
    /// `nonce` (10 random bytes) makes the access key id.
    pub fn mint(
        &self,
        role_arn: &str,
        session_name: &str,
        task_arn: Option<&str>,
        expires: i64,
        nonce: [u8; 10],
    ) -> TemporaryCredentials {
        let access_key_id = format!("ASIA{}", base32(&nonce));
        let payload = Payload {
            ak: access_key_id.clone(),
            role: role_arn.to_owned(),
            session: session_name.to_owned(),
            exp: expires,
            task: task_arn.map(str::to_owned),
        };
        let body = serde_json::to_vec(&payload).unwrap_or_default();
        let seal = self.mac(b"token", &body);
        let session_token = format!(
            "{TOKEN_PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(&body),
            URL_SAFE_NO_PAD.encode(seal)
        );
        TemporaryCredentials {
            secret_access_key: self.secret_for(&access_key_id),
            access_key_id,
            session_token,
            expiration: expires,
        }
    }

    /// Seals `body` for `purpose` (`exec`, say): the body and its HMAC under
    /// this issuer's key, URL-safe. Only [`Issuer::unseal`] with the same
    /// purpose and key opens it; the body is not secret, only authentic.
    pub fn seal(&self, purpose: &str, body: &[u8]) -> String {
        let seal = self.mac(purpose.as_bytes(), body);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(body), URL_SAFE_NO_PAD.encode(seal))
    }

    /// The body [`Issuer::seal`] sealed for `purpose`, or `None` when the
    /// token was not sealed so (forged, altered, another key or purpose).
    pub fn unseal(&self, purpose: &str, token: &str) -> Option<Vec<u8>> {
        let (body, seal) = token.split_once('.')?;
        let body = URL_SAFE_NO_PAD.decode(body).ok()?;
        let seal: [u8; 32] = URL_SAFE_NO_PAD.decode(seal).ok()?.try_into().ok()?;
        let expected = self.mac(purpose.as_bytes(), &body);
        crate::sigv4::same_signature(&seal, &expected).then_some(body)
    }

    /// Opens a session token: `UnknownKey` when it is not one of this
    /// issuer's, `ExpiredToken` when it has expired.
    pub fn open(&self, token: &str, now: i64) -> Result<Session, AuthError> {
        let rest = token.strip_prefix(TOKEN_PREFIX).ok_or(AuthError::UnknownKey)?;
        let (body, seal) = rest.split_once('.').ok_or(AuthError::UnknownKey)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| AuthError::UnknownKey)?;
        let seal = URL_SAFE_NO_PAD.decode(seal).map_err(|_| AuthError::UnknownKey)?;
        let expected = self.mac(b"token", &body);
        let Ok(seal) = <[u8; 32]>::try_from(seal.as_slice()) else {
            return Err(AuthError::UnknownKey);
        };
        if !crate::sigv4::same_signature(&seal, &expected) {
            return Err(AuthError::UnknownKey);
        }
        let p: Payload = serde_json::from_slice(&body).map_err(|_| AuthError::UnknownKey)?;
        if now >= p.exp {
            return Err(AuthError::ExpiredToken);
        }
        Ok(Session {
            access_key_id: p.ak,
            role_arn: p.role,
            session_name: p.session,
            expires: p.exp,
            task_arn: p.task,
        })
    }
}

/// RFC 4648 base32, upper case, no padding (10 bytes → 16 characters).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_open_until_they_expire() {
        let issuer = Issuer::new([7; 32]);
        let c = issuer.mint("arn:aws:iam::1:role/app", "s1", Some("arn:task"), 1000, [1; 10]);
        assert!(c.access_key_id.starts_with("ASIA") && c.access_key_id.len() == 20);
        assert_eq!(c.secret_access_key.len(), 40);
        assert_eq!(issuer.secret_for(&c.access_key_id), c.secret_access_key);
        let s = issuer.open(&c.session_token, 999).unwrap();
        assert_eq!(s.role_arn, "arn:aws:iam::1:role/app");
        assert_eq!(s.task_arn.as_deref(), Some("arn:task"));
        assert_eq!(issuer.open(&c.session_token, 1000), Err(AuthError::ExpiredToken));
        assert!(!format!("{c:?}").contains(&c.secret_access_key));
    }

    #[test]
    fn sealed_bodies_open_only_for_their_purpose_and_key() {
        let issuer = Issuer::new([7; 32]);
        let token = issuer.seal("exec", b"{\"a\":1}");
        assert_eq!(issuer.unseal("exec", &token).as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(issuer.unseal("token", &token), None, "another purpose");
        assert_eq!(Issuer::new([8; 32]).unseal("exec", &token), None, "another key");
        let (body, seal) = token.split_once('.').unwrap();
        let altered = format!("{}.{seal}", URL_SAFE_NO_PAD.encode(b"{\"a\":2}"));
        assert_ne!(body, URL_SAFE_NO_PAD.encode(b"{\"a\":2}"));
        assert_eq!(issuer.unseal("exec", &altered), None, "an altered body");
        assert_eq!(issuer.unseal("exec", "garbage"), None);
    }

    #[test]
    fn forged_or_foreign_tokens_are_unknown() {
        let issuer = Issuer::new([7; 32]);
        let c = issuer.mint("arn:aws:iam::1:role/app", "s", None, 1000, [1; 10]);
        assert_eq!(Issuer::new([8; 32]).open(&c.session_token, 0), Err(AuthError::UnknownKey));
        let mut forged = c.session_token.clone();
        forged.insert(20, 'A');
        assert_eq!(issuer.open(&forged, 0), Err(AuthError::UnknownKey));
        assert_eq!(issuer.open("garbage", 0), Err(AuthError::UnknownKey));
        assert_ne!(issuer.secret_for("ASIAAAAA"), Issuer::new([8; 32]).secret_for("ASIAAAAA"));
    }
}
