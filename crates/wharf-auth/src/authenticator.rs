//! From a signed request to a [`Caller`]: the claim read, the time checked,
//! the secret found (a user's access key, or a session token's derived
//! secret), the signature verified with a cached signing key.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::identity::{Caller, Directory};
use crate::sigv4::{self, Request, SigningKey};
use crate::sts::Issuer;
use crate::AuthError;

/// How many access keys the signing key cache holds before it starts afresh.
const KEY_CACHE_LIMIT: usize = 4096;
/// How many scopes (date, region, service) it keeps per access key; the
/// oldest goes first. A client signs for one date at a time, a few regions
/// and services.
const SCOPES_PER_KEY: usize = 16;

/// A cached signing key and the scope it was derived for.
#[derive(Debug)]
struct Scoped {
    date: String,
    region: String,
    service: String,
    ready: Arc<Ready>,
}

/// What a scope's next request needs ready: the signing key, and for a
/// user's long-term key the caller it resolves to (a session's caller is
/// worked out each time, since its token must be opened and its expiry
/// checked).
#[derive(Debug)]
struct Ready {
    key: SigningKey,
    caller: Option<Arc<Caller>>,
}

/// Verifies requests against a [`Directory`] and an STS [`Issuer`].
#[derive(Debug)]
pub struct Authenticator {
    directory: Arc<Directory>,
    issuer: Issuer,
    /// Access key id → the signing keys derived for its scopes, ready to
    /// sign (looked up without allocating).
    keys: RwLock<HashMap<String, Vec<Scoped>>>,
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
    pub fn authenticate(&self, req: &Request<'_>, now: i64) -> Result<Arc<Caller>, AuthError> {
        let claim = sigv4::read_claim(req)?;
        sigv4::check_time(&claim, now)?;
        let cached = self.cached(&claim);
        // A user's key seen before in this scope: its key and caller are ready.
        if let Some(Ready { key, caller: Some(caller) }) = cached.as_deref() {
            sigv4::verify_with(req, &claim, key, true)?;
            return Ok(caller.clone());
        }
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
        let key = match &cached {
            Some(ready) => ready.key.clone(),
            None => {
                let secret = match secret {
                    Some(s) => s.to_owned(),
                    None => self.issuer.secret_for(&claim.access_key_id),
                };
                SigningKey::new(&sigv4::signing_key(
                    &secret,
                    &claim.date,
                    &claim.region,
                    &claim.service,
                ))
            }
        };
        sigv4::verify_with(req, &claim, &key, true)?;
        let arn = match &session {
            Some(s) => format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                principal.account, principal.name, s.session_name
            ),
            None => principal.arn.clone(),
        };
        let user = session.is_none();
        let caller = Arc::new(Caller {
            arn,
            principal,
            session,
            access_key_id: claim.access_key_id.to_string(),
            region: claim.region.to_string(),
            service: claim.service.to_string(),
        });
        if cached.is_none() {
            // Only a verified request's scope is cached: a forged one would
            // otherwise fill the cache for nothing.
            let caller = user.then(|| caller.clone());
            self.cache(&claim, Ready { key, caller });
        }
        Ok(caller)
    }

    fn cached(&self, claim: &sigv4::Claim<'_>) -> Option<Arc<Ready>> {
        let keys = self.keys.read().ok()?;
        keys.get(&*claim.access_key_id)?
            .iter()
            .find(|s| {
                s.date == claim.date && s.region == claim.region && s.service == claim.service
            })
            .map(|s| s.ready.clone())
    }

    fn cache(&self, claim: &sigv4::Claim<'_>, ready: Ready) {
        let Ok(mut keys) = self.keys.write() else { return };
        if keys.len() >= KEY_CACHE_LIMIT && !keys.contains_key(&*claim.access_key_id) {
            keys.clear();
        }
        let scopes = keys.entry(claim.access_key_id.clone().into_owned()).or_default();
        let same = |s: &Scoped| {
            s.date == claim.date && s.region == claim.region && s.service == claim.service
        };
        if scopes.iter().any(same) {
            return;
        }
        if scopes.len() >= SCOPES_PER_KEY {
            scopes.remove(0);
        }
        scopes.push(Scoped {
            date: claim.date.clone().into_owned(),
            region: claim.region.clone().into_owned(),
            service: claim.service.clone().into_owned(),
            ready: Arc::new(ready),
        });
    }
}
