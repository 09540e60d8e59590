//! The audit log's cryptography, free of I/O.

pub mod note_key;
