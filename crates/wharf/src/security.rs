//! The server's secrets on disk: the credentials file (`--credentials`)
//! and the key STS session tokens are sealed with (`sts.key` in the data
//! directory, made on first start, readable by its owner only).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use wharf_auth::sts::Issuer;
use wharf_auth::{Authenticator, Directory};
use wharf_store::{Kind, Store, Write as DocWrite};

/// The authenticator over a credentials file.
pub fn authenticator(path: &Path, issuer: &Issuer) -> anyhow::Result<Authenticator> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the credentials file {}", path.display()))?;
    let directory = Directory::from_json(&text)
        .with_context(|| format!("the credentials file {} cannot be used", path.display()))?;
    tracing::info!(
        users = directory.users().len(),
        file = %path.display(),
        "requests must be signed: credentials loaded"
    );
    Ok(Authenticator::new(Arc::new(directory), issuer.clone()))
}

/// The STS issuer of a control plane of several servers (an etcd store):
/// its key is kept in the store, made by whichever server starts first, so
/// temporary credentials one server issues are accepted by every other.
pub async fn shared_sts_issuer(store: &dyn Store) -> anyhow::Result<Issuer> {
    let fresh = wharf_auth::hex::encode(&wharf_api::random::bytes::<32>());
    let kept = store
        .update(
            Kind::ServerKey,
            "*",
            "sts",
            Box::new(move |current| {
                Ok(if current.is_some() { DocWrite::Keep } else { DocWrite::Put(fresh.clone()) })
            }),
        )
        .await
        .context("cannot read or make the shared STS key")?
        .context("the shared STS key was not kept")?;
    let key = wharf_auth::hex::decode32(kept.trim())
        .context("the shared STS key in the store is not 32 bytes of hex")?;
    Ok(Issuer::new(key))
}

/// The STS issuer, with its key read from `data_dir/sts.key` (made when missing).
pub fn sts_issuer(data_dir: &Path) -> anyhow::Result<Issuer> {
    let path = data_dir.join("sts.key");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                anyhow::anyhow!(
                    "{} is not a 32-byte key; remove it to make a new one",
                    path.display()
                )
            })?;
            Ok(Issuer::new(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = wharf_api::random::bytes();
            let tmp = data_dir.join("sts.key.tmp");
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file =
                options.open(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
            file.write_all(&key)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(Issuer::new(key))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn servers_of_one_store_share_one_sts_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = wharf_store::SqliteStore::open(&dir.path().join("wharf.db")).unwrap();
        let first = shared_sts_issuer(&store).await.unwrap();
        let second = shared_sts_issuer(&store).await.unwrap();
        // The second server found the first's key: it derives the same secrets.
        assert_eq!(first.secret_for("ASIAEXAMPLE"), second.secret_for("ASIAEXAMPLE"));
        let other = tempfile::tempdir().unwrap();
        let elsewhere = wharf_store::SqliteStore::open(&other.path().join("wharf.db")).unwrap();
        let third = shared_sts_issuer(&elsewhere).await.unwrap();
        assert_ne!(first.secret_for("ASIAEXAMPLE"), third.secret_for("ASIAEXAMPLE"));
    }
}
