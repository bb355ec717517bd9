//! Async code inside a synchronous handler: one current-thread Tokio runtime, built once,
//! drives each invocation's future with `block_on`.

use std::time::Duration;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a Tokio runtime");
    minlambda::run_with_context(move |event: serde_json::Value, ctx| {
        rt.block_on(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok::<_, String>(serde_json::json!({
                "event": event,
                "requestId": ctx.request_id,
            }))
        })
    })
}
