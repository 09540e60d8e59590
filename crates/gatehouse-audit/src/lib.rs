//! The audit log's cryptography, free of I/O.

pub mod checkpoint;
pub mod merkle;
pub mod note_key;
