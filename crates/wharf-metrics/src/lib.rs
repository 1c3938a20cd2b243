//! What `/metrics` is made of: the Prometheus text exposition format (version 0.0.4) and
//! the instruments Wharf's crates count with.
//!
//! Each crate that counts something owns its instruments and writes them through an
//! [`Encoder`] when scraped; the binary gathers the parts into one answer. Nothing here
//! takes a lock or allocates on the counting path: a [`Histogram`] is a fixed row of
//! atomics, and counters are plain `AtomicU64`s in the crates that own them.
//!
//! Hand-written rather than the `prometheus-client` crate: that one brings `parking_lot`,
//! a derive macro and float formatting crates, and its label families take a lock per
//! lookup; Wharf needs counters, gauges and histograms, and their text, which is this.
#![warn(missing_docs)]

pub mod histogram;
pub mod text;

pub use histogram::{Histogram, HistogramSnapshot, LATENCY_SECONDS};
pub use text::{Encoder, Family, MetricType, CONTENT_TYPE};
