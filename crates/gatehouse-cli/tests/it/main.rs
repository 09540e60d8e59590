//! The `gatehouse` binary as a user runs it: real processes, real sockets,
//! on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod audit;
mod client_commands;
mod gate;
mod hardening_transport;
mod init;
mod multi_node;
mod policy;
mod serve;
mod signing;
mod sso;
mod support;
