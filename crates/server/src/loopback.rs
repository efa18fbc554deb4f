//! The server on a loopback port in its own runtime, for the simulator, end-to-end tests and
//! load runs: the real routes, the real listener and the real HTTP, without deployment.

use std::sync::Arc;
use std::time::Duration;

use crate::serve::{ServeLimits, serve};
use crate::{AppState, Authority, router};

/// A server running on loopback in its own runtime; stops when dropped.
pub struct LoopbackServer {
    /// The authority behind it.
    pub authority: Arc<Authority>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl LoopbackServer {
    /// Serves `authority` on a free loopback port, with `clock` as its time.
    ///
    /// # Errors
    /// When no runtime can start or no loopback port can be bound.
    pub fn start(
        authority: Arc<Authority>,
        clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    ) -> std::io::Result<Self> {
        Self::start_with(AppState::new(authority, clock), ServeLimits::default())
    }

    /// Serves `state` on a free loopback port under `limits`.
    ///
    /// # Errors
    /// When no runtime can start or no loopback port can be bound.
    pub fn start_with(state: AppState, limits: ServeLimits) -> std::io::Result<Self> {
        let authority = state.authority.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let base = format!("http://{}", listener.local_addr()?);
        runtime.spawn(async move {
            let _ = serve(listener, router(state), limits, std::future::pending()).await;
        });
        Ok(Self {
            authority,
            base,
            runtime: Some(runtime),
        })
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}
