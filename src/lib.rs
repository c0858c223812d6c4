//! ecsx: a fast companion for AWS ECS: exec, tasks, status, verify, and a
//! built-in sandbox that emulates the AWS APIs ecsx speaks.

pub mod app;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod definition;
pub mod ecs;
pub mod envfile;
pub mod error;
pub mod exec;
pub mod output;
pub mod picker;
pub mod port;
pub mod progress;
pub mod protocol;
pub mod remote;
pub mod sandbox;
pub mod template;
pub mod verify;
