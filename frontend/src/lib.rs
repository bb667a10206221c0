//! The browser entry point: hydrates the server-rendered pages. The editor's pixel code is not
//! here: it is the separate `editor-worker` bundle, loaded when the editor opens.

// The pages' view types nest deeply; rustc's default limit (128) is too low for their layouts.
#![recursion_limit = "256"]

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
