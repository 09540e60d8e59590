//! One module per subcommand.

pub mod audit;
pub mod binding;
pub mod break_glass;
pub mod evidence;
pub mod evidence_file;
pub mod gate;
pub mod grant;
pub mod identity;
pub mod init;
pub mod integration;
pub mod key;
pub mod mfa;
pub mod policy;
pub mod policy_test;
pub mod request;
pub mod review;
pub mod review_file;
pub mod serve;
pub mod token;
pub mod vendor;
pub mod verify;
pub mod whoami;
