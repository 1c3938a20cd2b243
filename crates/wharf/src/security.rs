//! The server's secrets on disk: the credentials file (`--credentials`)
//! and the key STS session tokens are sealed with (`sts.key` in the data
//! directory, made on first start, readable by its owner only).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use wharf_auth::sts::Issuer;
use wharf_auth::{Authenticator, Directory};

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
