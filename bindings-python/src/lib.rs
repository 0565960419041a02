//! Placeholder crate: the python binding over `pgmq-core` arrives with its own issue.

pub use pgmq_core as core;
