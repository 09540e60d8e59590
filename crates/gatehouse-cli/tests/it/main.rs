//! The `gatehouse` binary as a user runs it: real processes, real sockets,
//! on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod audit;
mod client_commands;
mod gate;
mod init;
mod multi_node;
mod policy;
mod reliability;
mod serve;
mod signing;
mod sso;
mod support;
