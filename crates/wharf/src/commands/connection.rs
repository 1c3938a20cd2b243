//! The flags every command that talks to a running server shares (`wharf
//! logs`, `ps`, `services`, `describe`, `stop`, `diff`): where the server is,
//! the region, and the cluster.

use std::future::Future;

use crate::api_client::ApiClient;

/// Where the server is and which cluster to look at.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// The cluster (name or ARN).
    #[arg(long, short = 'c', default_value = "default")]
    pub cluster: String,
    /// The server's address.
    #[arg(long, env = "WHARF_ENDPOINT", default_value = "http://127.0.0.1:4590")]
    pub endpoint: String,
    /// The region the cluster is in.
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    pub region: String,
}

impl ConnectionArgs {
    /// A client of the server these flags name, secured as the environment
    /// says (credentials that sign, certificates to trust).
    pub fn client(&self) -> anyhow::Result<ApiClient> {
        ApiClient::new(&self.endpoint, &self.region)
    }
}

/// Runs one command's work on a small runtime of its own.
pub fn block_on<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(work)
}
