//! The sandbox: a local emulator of the AWS APIs ecsx uses, served on one
//! loopback HTTP listener, so that tests run the real binary and the real AWS
//! SDK against it and a newcomer can try ecsx without an AWS account. It is
//! faithful enough for the official `aws` CLI.
//!
//! Every service shares the listener (SDKs send every service to the one
//! endpoint URL); [`wire`] tells them apart by `X-Amz-Target` or the query
//! `Action`. Requests are accepted with any credentials; signatures are not
//! checked, and nothing of the credentials is logged or echoed.
//!
//! Layout: [`world`] (the data), `worldfile` (the YAML world file), `wire`
//! (HTTP framing of the AWS protocols), `ecs` and `sts` (operations).

mod ecs;
mod sts;
mod wire;
pub mod world;
mod worldfile;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub use world::{DeriveInput, World, WorldError};

use wire::{Call, Protocol, ServiceId};

/// A running emulator's state: the world behind a lock, and call counters.
pub struct Sandbox {
    world: RwLock<World>,
    calls: AtomicU64,
    throttled: AtomicU64,
    by_operation: Mutex<BTreeMap<String, u64>>,
    /// State of the generator that picks the calls to throttle.
    dice: AtomicU64,
}

/// What the sandbox has answered so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// AWS calls received (throttled ones included).
    pub calls: u64,
    /// Calls answered with a throttling error.
    pub throttled: u64,
    /// Calls per `service:Operation`, e.g. `ecs:ListTasks`.
    pub by_operation: BTreeMap<String, u64>,
}

impl Sandbox {
    pub fn new(world: World) -> Arc<Sandbox> {
        Arc::new(Sandbox {
            world: RwLock::new(world),
            calls: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            by_operation: Mutex::new(BTreeMap::new()),
            dice: AtomicU64::new(0x5eed),
        })
    }

    /// A snapshot of the world.
    pub fn world(&self) -> World {
        self.world
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Change the world while serving (tests: a task stops, an agent comes up).
    pub fn update_world<R>(&self, change: impl FnOnce(&mut World) -> R) -> R {
        change(&mut self.world.write().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn stats(&self) -> Stats {
        Stats {
            calls: self.calls.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            by_operation: self
                .by_operation
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    fn count(&self, call: &Call) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        *self
            .by_operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(call.key())
            .or_default() += 1;
    }

    /// True for a `rate` fraction of calls.
    fn roll_throttle(&self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        let n = self.dice.fetch_add(1, Ordering::Relaxed);
        let x = world::splitmix64(n);
        // 53 random bits as a fraction in [0, 1).
        let fraction = (x >> 11) as f64 / (1u64 << 53) as f64;
        fraction < rate
    }

    /// Answer one call: sleep `latency`, maybe throttle, then run the operation.
    async fn answer(&self, call: Call, body: Bytes) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (latency, rate) = {
            let world = self.world.read().unwrap_or_else(PoisonError::into_inner);
            (world.latency, world.throttle_rate)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.count(&call);
        if self.roll_throttle(rate) {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return wire::error(
                &call.protocol,
                &request_id,
                &wire::ApiError::throttling(&call.protocol),
            );
        }
        let world = self.world.read().unwrap_or_else(PoisonError::into_inner);
        match (&call.service, &call.protocol) {
            (ServiceId::Ecs, Protocol::Json { content_type }) => {
                match ecs::handle(&world, &call.operation, &body) {
                    Ok(out) => wire::json_ok(content_type, &request_id, &out),
                    Err(e) => wire::json_error(content_type, &request_id, &e),
                }
            }
            (ServiceId::Sts, Protocol::Query { namespace }) => {
                match sts::handle(&world, &call.operation, &call.params) {
                    Ok(result) => wire::query_ok(namespace, &call.operation, &request_id, &result),
                    Err(e) => wire::query_error(namespace, &request_id, &e),
                }
            }
            (_, Protocol::Json { .. }) => wire::error(
                &call.protocol,
                &request_id,
                &wire::ApiError::unknown_operation(&call.service, &call.operation),
            ),
            (_, Protocol::Query { .. }) => wire::error(
                &call.protocol,
                &request_id,
                &wire::ApiError::invalid_action(&call.operation),
            ),
        }
    }
}

/// The sandbox's HTTP routes: every AWS call is a POST to any path.
pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new().fallback(handle).with_state(sandbox)
}

async fn handle(
    State(sandbox): State<Arc<Sandbox>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match wire::identify(&headers, &body) {
        Some(call) if method == Method::POST => sandbox.answer(call, body).await,
        _ if method == Method::GET || method == Method::HEAD => (
            StatusCode::OK,
            "ecsx sandbox: a local emulator of AWS ECS and STS.\n\
             Point the AWS SDK or CLI here with --endpoint-url.\n",
        )
            .into_response(),
        _ => {
            let call_id = uuid::Uuid::new_v4().to_string();
            let error = wire::ApiError::new(
                "UnknownOperationException",
                "No operation: send X-Amz-Target (awsJson) or Action (awsQuery).",
            );
            wire::json_error("application/x-amz-json-1.1", &call_id, &error)
        }
    }
}

/// Serve until `shutdown` resolves. Takes a bound listener so tests bind
/// `127.0.0.1:0`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sandbox: Arc<Sandbox>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(sandbox))
        .with_graceful_shutdown(shutdown)
        .await
}
