//! go-plugin's own services, which Terraform calls beside `tfplugin6.Provider`.
//!
//! - `plugin.GRPCController/Shutdown`: Terraform's way of ending the plugin. Without it Terraform
//!   waits 2 s, logs "plugin failed to exit gracefully" and kills us, on every provider start.
//! - `plugin.GRPCStdio/StreamStdio`: go-plugin subscribes once at connect time to relay the
//!   plugin's stdout/stderr. We write logs straight to stderr (which go-plugin reads anyway), so
//!   the stream carries no data; it stays open until shutdown and then ends cleanly, which
//!   go-plugin takes as a normal EOF. (Unimplemented would also be tolerated, but costs a WARN
//!   line in Terraform's log on every start.)

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tfplugin_protos::plugin::grpc_controller_server::GrpcController;
use tfplugin_protos::plugin::grpc_stdio_server::GrpcStdio;
use tfplugin_protos::plugin::{Empty, StdioData};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::shutdown::ShutdownSignal;

/// `plugin.GRPCController`: `Shutdown` fires the shutdown signal and answers at once; the server
/// then drains (this very response included) and the process exits 0.
#[derive(Debug, Clone)]
pub(crate) struct Controller {
    shutdown: ShutdownSignal,
}

impl Controller {
    pub(crate) fn new(shutdown: ShutdownSignal) -> Self {
        Self { shutdown }
    }
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("shutdown requested by the plugin host");
        self.shutdown.trigger();
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: an empty stream that ends when the plugin shuts down.
#[derive(Debug, Clone)]
pub(crate) struct Stdio {
    shutdown: ShutdownSignal,
}

impl Stdio {
    pub(crate) fn new(shutdown: ShutdownSignal) -> Self {
        Self { shutdown }
    }
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<tonic::codegen::BoxStream<StdioData>>, Status> {
        let stream = EndsOnShutdown {
            until: Box::pin(self.shutdown.triggered()),
        };
        Ok(Response::new(Box::pin(stream)))
    }
}

/// A stream without items that completes when its future does. Ending the stream (rather than
/// holding it open) matters: a graceful server shutdown waits for every open stream.
struct EndsOnShutdown {
    until: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Stream for EndsOnShutdown {
    type Item = Result<StdioData, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.until.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio_stream::StreamExt;

    #[tokio::test]
    async fn shutdown_fires_the_signal_and_ends_stdio_streams() {
        let signal = ShutdownSignal::new();
        let mut stream = Stdio::new(signal.clone())
            .stream_stdio(Request::new(()))
            .await
            .unwrap()
            .into_inner();
        // Open and silent before shutdown.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), stream.next())
                .await
                .is_err()
        );
        Controller::new(signal.clone())
            .shutdown(Request::new(Empty {}))
            .await
            .unwrap();
        assert!(signal.is_triggered());
        let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap();
        assert!(end.is_none());
    }
}
