//! Dispatch: [`Host`](host::Host), the embedding API, delivers each event to its listeners.

pub mod bench;
pub mod host;
pub mod queue;
