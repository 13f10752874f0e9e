//! Temporary stub of the local server (being written).
use std::{future::Future, sync::Arc};
use tributary_core::Gateway;

pub async fn serve(
    _gateway: Arc<Gateway>,
    _listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    shutdown.await;
    Ok(())
}
