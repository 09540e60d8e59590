//! The `gatehouse` binary as a user runs it: real processes, real sockets,
//! on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod approvals;
mod audit;
mod break_glass;
mod client_commands;
mod evidence_export;
mod export_properties;
mod gate;
mod hardening_misc;
mod hardening_transport;
mod init;
mod integrations;
mod multi_node;
mod notify;
mod pipeline_push;
mod policy;
mod reliability;
mod reviews;
mod serve;
mod signing;
mod sso;
mod support;
mod vendor_gate;
mod vendors;
mod web_console;
