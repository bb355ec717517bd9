//! The official Rust client's hello, for the size comparison with `examples/hello.rs`:
//! `{"name": "x"}` -> `"Hello, x!"`.
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[derive(serde::Deserialize)]
struct Event {
    name: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(hello)).await
}

async fn hello(event: LambdaEvent<Event>) -> Result<String, Error> {
    Ok(format!("Hello, {}!", event.payload.name))
}
