//! A runtime of its own for collection, apart from the one serving HTTP.
//!
//! Collection is many short waits on database sockets. On a shared multi-thread runtime each wake-up can pass
//! through an idle worker thread, which is woken, finds nothing and sleeps again (measured in
//! `docs/performance.md` §3). One thread that only collects avoids the hand-offs, and keeps collection on
//! schedule while a burst of scrapes keeps the HTTP workers busy.
//!
//! ```
//! use hubble::{runtime::CollectionRuntime, Registry};
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let collection = CollectionRuntime::new(1)?;
//! let registry = Registry::new();
//! registry.collect_on(collection.handle().clone());
//! // registry.register(exporter).await ... its collectors now run on the collection thread.
//! registry.close_all().await;
//! drop(collection);
//! # Ok(()) }
//! ```

use tokio::runtime::{Builder, Handle, Runtime};

/// Worker threads (named `hubble-collect`) that run collectors. Dropping it stops them; close the exporters
/// first ([`Registry::close_all`](crate::Registry::close_all)) so runs end cleanly.
pub struct CollectionRuntime {
    runtime: Option<Runtime>,
}

impl CollectionRuntime {
    /// A runtime of `threads` worker threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("hubble-collect")
            .enable_all()
            .build()?;
        Ok(CollectionRuntime {
            runtime: Some(runtime),
        })
    }

    /// Where to spawn: see [`Registry::collect_on`](crate::Registry::collect_on).
    pub fn handle(&self) -> &Handle {
        self.runtime
            .as_ref()
            .expect("present until dropped")
            .handle()
    }
}

impl Drop for CollectionRuntime {
    fn drop(&mut self) {
        // Not a plain drop: that blocks, and panics when done from async code.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for CollectionRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectionRuntime").finish_non_exhaustive()
    }
}
