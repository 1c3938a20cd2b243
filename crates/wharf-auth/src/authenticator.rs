//! From a signed request to a [`Caller`]: the claim read, the time checked,
//! the secret found (a user's access key, or a session token's derived
//! secret), the signature verified with a cached signing key.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::identity::{Caller, Directory};
use crate::sigv4::{self, Request};
use crate::sts::Issuer;
use crate::AuthError;

/// How many derived signing keys are kept before the cache starts afresh.
const KEY_CACHE_LIMIT: usize = 4096;

/// Verifies requests against a [`Directory`] and an STS [`Issuer`].
#[derive(Debug)]
pub struct Authenticator {
    directory: Arc<Directory>,
    issuer: Issuer,
    /// `access-key/date/region/service` → signing key.
    keys: RwLock<HashMap<String, [u8; 32]>>,
}

impl Authenticator {
    /// An authenticator over these principals and this session key.
    pub fn new(directory: Arc<Directory>, issuer: Issuer) -> Self {
        Self { directory, issuer, keys: RwLock::default() }
    }

    /// The principals.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The session issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// Who sent `req`, if its signature is good at `now` (Unix seconds).
    /// The body is hashed here.
    pub fn authenticate(&self, req: &Request<'_>, now: i64) -> Result<Caller, AuthError> {
        let claim = sigv4::read_claim(req)?;
        sigv4::check_time(&claim, now)?;
        let (principal, session, secret) = match self.directory.key(&claim.access_key_id) {
            Some((secret, principal)) => (principal.clone(), None, Some(secret)),
            None => {
                let token = claim.security_token.as_deref().ok_or(AuthError::UnknownKey)?;
                let session = self.issuer.open(token, now)?;
                if session.access_key_id != *claim.access_key_id {
                    return Err(AuthError::UnknownKey);
                }
                let role = self.directory.role(&session.role_arn).ok_or(AuthError::UnknownKey)?;
                (role.clone(), Some(session), None)
            }
        };
        let scope = claim.key_scope();
        let cached = self.keys.read().ok().and_then(|k| k.get(&scope).copied());
        let key = match cached {
            Some(k) => k,
            None => {
                let secret = match secret {
                    Some(s) => s.to_owned(),
                    None => self.issuer.secret_for(&claim.access_key_id),
                };
                let k = sigv4::signing_key(&secret, &claim.date, &claim.region, &claim.service);
                if let Ok(mut keys) = self.keys.write() {
                    if keys.len() >= KEY_CACHE_LIMIT {
                        keys.clear();
                    }
                    keys.insert(scope, k);
                }
                k
            }
        };
        sigv4::verify(req, &claim, &key, true)?;
        let arn = match &session {
            Some(s) => format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                principal.account, principal.name, s.session_name
            ),
            None => principal.arn.clone(),
        };
        Ok(Caller {
            arn,
            principal,
            session,
            access_key_id: claim.access_key_id.into_owned(),
            region: claim.region.into_owned(),
            service: claim.service.into_owned(),
        })
    }
}
