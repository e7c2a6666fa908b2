//! The listener runtime: the engine and its epoch ticker, the per-call limits (armed in one
//! place), a listener's load, instances, calls, traps and quarantine, its store state and
//! status, the contract's bindings and validation, the event encoding handed to guests, and
//! the artifact cache of compiled components.

pub mod bindings;
pub mod cache;
pub mod encoding;
pub mod engine;
pub mod limits;
pub mod listener;
pub mod state;
pub mod status;
pub mod validate;
