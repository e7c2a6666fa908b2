//! The `tokenwatch` command's subcommands that live in the library (the binary parses flags
//! and calls these).

pub mod bench;
pub mod check;
pub mod new;
pub mod replay;
