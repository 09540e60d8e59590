//! The audit log's cryptography, free of I/O.

pub mod bundle;
pub mod checkpoint;
pub mod export;
pub mod merkle;
pub mod note_key;
