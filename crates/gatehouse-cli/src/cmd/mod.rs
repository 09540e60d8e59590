//! One module per subcommand.

pub mod audit;
pub mod identity;
pub mod init;
pub mod serve;
pub mod token;
pub mod whoami;
