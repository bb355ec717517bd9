//! The seed's function: `{"name": "x"}` -> `"Hello, x!"`.

#[derive(serde::Deserialize)]
struct Event {
    name: String,
}

fn main() {
    minlambda::run_ok(|event: Event| format!("Hello, {}!", event.name))
}
