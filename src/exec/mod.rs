//! `ecsx exec`: the ECS Exec session, from the user's command to the
//! data channel and back.

pub mod channel;
pub mod copy;
pub mod run;
pub mod session;
pub mod target;
pub mod terminal;
pub mod wrap;
