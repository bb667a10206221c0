//! The server's integration tests, one binary: each test links the whole server (ONNX Runtime
//! bindings included), and seven binaries took minutes to link and gigabytes of disk in CI.

#[macro_use]
mod support;

mod accounts;
mod ai;
mod batch;
mod concurrency;
mod consent;
mod deadline;
mod edge;
mod faces;
mod fuzz;
mod generate;
mod lifecycle;
mod ocr;
mod oidc;
mod optimize;
mod retention;
mod security;
mod selection;
mod slice;
mod style;
mod tables;
