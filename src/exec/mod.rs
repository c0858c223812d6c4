//! `ecsx exec`: the ECS Exec session, from the user's command to the
//! data channel and back.

pub mod wrap;
