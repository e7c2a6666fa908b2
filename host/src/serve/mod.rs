//! `tokenwatch serve`: the daemon's control plane.

pub mod watch;
