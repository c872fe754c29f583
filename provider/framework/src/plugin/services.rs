//! The three gRPC services behind one socket, dispatched by the service name in the request path
//! (`/<package.Service>/<Method>`).
//!
//! tonic's own `Server::add_service` router lives behind its `router` feature (which pulls in
//! axum); a path match over three services is all we need, so we do it here.

use std::convert::Infallible;
use std::task::{Context, Poll};

use tfplugin_protos::plugin::grpc_controller_server::GrpcControllerServer;
use tfplugin_protos::plugin::grpc_stdio_server::GrpcStdioServer;
use tfplugin_protos::tfplugin6::provider_server::{Provider, ProviderServer};
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::NamedService;

use super::controller::{Controller, Stdio};

/// `tfplugin6.Provider` + `plugin.GRPCController` + `plugin.GRPCStdio` as one tower service.
pub(crate) struct PluginServices<P> {
    provider: ProviderServer<P>,
    controller: GrpcControllerServer<Controller>,
    stdio: GrpcStdioServer<Stdio>,
}

// Derived Clone would demand `P: Clone`; the servers share their inner service through an `Arc`.
impl<P> Clone for PluginServices<P> {
    fn clone(&self) -> Self {
        Self {
            provider: self.provider.clone(),
            controller: self.controller.clone(),
            stdio: self.stdio.clone(),
        }
    }
}

impl<P: Provider> PluginServices<P> {
    /// Bundles the services; message size limits are the caller's business.
    pub(crate) fn new(
        provider: ProviderServer<P>,
        controller: GrpcControllerServer<Controller>,
        stdio: GrpcStdioServer<Stdio>,
    ) -> Self {
        Self {
            provider,
            controller,
            stdio,
        }
    }
}

/// The `package.Service` part of a gRPC path, e.g. `tfplugin6.Provider`.
fn service_name(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("")
}

impl<P: Provider> Service<http::Request<Body>> for PluginServices<P> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    /// The generated servers are always ready.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let name = service_name(request.uri().path());
        if name == ProviderServer::<P>::NAME {
            self.provider.call(request)
        } else if name == GrpcControllerServer::<Controller>::NAME {
            self.controller.call(request)
        } else if name == GrpcStdioServer::<Stdio>::NAME {
            self.stdio.call(request)
        } else {
            // Terraform never calls other services (GRPCBroker, health); answer like gRPC does.
            let status = tonic::Status::unimplemented(format!("unknown service {name}"));
            Box::pin(async move { Ok(status.into_http()) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_match_the_wire_contract() {
        assert_eq!(
            service_name("/tfplugin6.Provider/GetProviderSchema"),
            "tfplugin6.Provider"
        );
        assert_eq!(
            service_name("/plugin.GRPCController/Shutdown"),
            "plugin.GRPCController"
        );
        assert_eq!(service_name(""), "");
        assert_eq!(
            ProviderServer::<crate::plugin::UnimplementedProvider>::NAME,
            "tfplugin6.Provider"
        );
        assert_eq!(
            GrpcControllerServer::<Controller>::NAME,
            "plugin.GRPCController"
        );
        assert_eq!(GrpcStdioServer::<Stdio>::NAME, "plugin.GRPCStdio");
    }
}
