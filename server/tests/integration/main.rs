//! The server's integration tests, one binary: each test links the whole server (ONNX Runtime
//! bindings included), and seven binaries took minutes to link and gigabytes of disk in CI.

// The pages' view types nest deeply (the workspace page most); rustc's default limit (128) is too
// low for their layouts, as in `frontend`.
#![recursion_limit = "256"]

#[macro_use]
mod support;

mod account_security;
mod accounts;
mod ai;
mod api_keys;
mod api_v1;
mod backup;
mod batch;
mod billing;
mod concurrency;
mod consent;
mod crash;
mod credits;
mod deadline;
mod duplicates;
mod edge;
mod faces;
mod fuzz;
mod generate;
mod lifecycle;
mod metrics;
mod ocr;
mod oidc;
mod optimize;
mod people;
mod retention;
mod s3;
mod scale;
mod search;
mod security;
mod selection;
mod slice;
mod style;
mod tables;
mod upscale_photo;
