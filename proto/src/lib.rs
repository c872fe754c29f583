//! Generated Rust bindings for the gRPC services a Terraform provider plugin serves.
//!
//! - [`tfplugin6`]: Terraform plugin protocol 6.8, the `tfplugin6.Provider` service.
//! - [`plugin`]: hashicorp/go-plugin's `plugin.GRPCController` (shutdown) and
//!   `plugin.GRPCStdio` (stdout/stderr streaming) services.
//! - [`google::protobuf`]: the well-known types the protocol uses (`Timestamp`), generated
//!   here so the crate needs no `prost-types`. `google.protobuf.Empty` maps to `()`.
//!
//! The code is generated at build time from the definitions in `proto/` (see `build.rs`).
//! Servers are generated with default stubs, so any RPC a provider does not override
//! answers `Unimplemented`.

/// Terraform plugin protocol version 6.8 (package `tfplugin6`).
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

/// hashicorp/go-plugin's own services (package `plugin`).
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod plugin {
    tonic::include_proto!("plugin");
}

/// Well-known protobuf types referenced by the protocols (package `google.protobuf`).
pub mod google {
    /// Package `google.protobuf`; only the types the protocols use are generated.
    #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    pub mod protobuf {
        tonic::include_proto!("google.protobuf");
    }
}
