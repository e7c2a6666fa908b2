//! The integration suite and sandbox conformance suite: real components built by
//! `make guests`, loaded into a real host.

mod cache;
mod compat;
mod concurrency;
mod containment;
mod declaration;
mod dispatch;
mod fuzz_props;
mod guest_strings;
mod hot_load;
mod lang_js;
mod lang_c;
mod lang_python;
mod http_push;
mod limits;
mod lifecycle;
mod loading;
mod nats;
mod metrics;
mod outbox;
mod read_only;
mod replay;
mod signing;
mod serve;
mod sqs;
mod wasi_deadline;
