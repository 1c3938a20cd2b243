//! Time as Wharf's logic sees it: always read through a [`Clock`], so tests
//! can fake it and no decision depends on the wall clock behind its back.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    /// The current time as the wire sends it.
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now_millis())
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug, Default)]
pub struct FakeClock {
    millis: AtomicI64,
}

impl FakeClock {
    /// A fake clock standing at `millis` since the epoch.
    pub fn at(millis: i64) -> Self {
        Self { millis: AtomicI64::new(millis) }
    }

    /// Moves the clock forward.
    pub fn advance_millis(&self, by: i64) {
        self.millis.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_millis(&self) -> i64 {
        self.millis.load(Ordering::SeqCst)
    }
}
