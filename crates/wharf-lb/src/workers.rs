//! Proxy workers: one thread per core, each running a current-thread Tokio runtime with its
//! own `SO_REUSEPORT` socket for every listener. A client connection, the request, and the
//! keep-alive connection to the target all stay on one thread: no cross-thread wakeups on
//! the hot path.

use std::cell::Cell;
use std::thread;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

thread_local! {
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The worker running on this thread, if any.
pub fn current() -> Option<usize> {
    WORKER.with(Cell::get)
}

/// The running workers; dropping this stops them and everything spawned on them.
#[derive(Debug)]
pub struct Workers {
    handles: Vec<Handle>,
    _stop: Vec<oneshot::Sender<()>>,
}

impl Workers {
    /// Starts `count` workers (at least one).
    pub fn start(count: usize) -> std::io::Result<Self> {
        let mut handles = Vec::new();
        let mut stops = Vec::new();
        for index in 0..count.max(1) {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            thread::Builder::new().name(format!("wharf-lb-{index}")).spawn(move || {
                WORKER.with(|w| w.set(Some(index)));
                // Returns when the sender is dropped; dropping the runtime cancels its tasks.
                let _ = runtime.block_on(stopped);
            })?;
        }
        Ok(Self { handles, _stop: stops })
    }

    /// The workers' runtimes.
    pub fn handles(&self) -> &[Handle] {
        &self.handles
    }
}
