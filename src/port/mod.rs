//! Port forwarding into a task (`ecsx port-forward`): local listeners, one
//! `ssm:StartSession` per forward with a port-forwarding document, the same
//! native data channel as exec ([`crate::exec::channel`]) in its Port
//! kind, and on top either smux v1 (one stream per accepted connection) or
//! the basic mode of older agents (protocol.md §8 in the shared docs).
//!
//! - [`spec`]: what one forward is (`--local-port/--port/--host`, `-L`).
//! - [`session`]: StartSession and the handshake; a [`session::Forward`]
//!   ready to serve.
//! - [`mux`] and [`basic`]: the two ways of carrying connections.
//! - [`smux`] and [`version`]: the pure protocol parts.
//! - [`io`]: reads and writes on the connections, in few system calls.
//!
//! Nothing here paces: the data channel's window and TCP bound the rate,
//! and every queue is bounded, so memory stays bounded whatever the speeds.

pub mod basic;
pub mod io;
pub mod mux;
pub mod run;
pub mod session;
pub mod smux;
pub mod spec;
pub mod version;

pub use session::{start_session, Forward, ForwardEnd, PortError};
pub use spec::ForwardSpec;
