//! Serving a `tfplugin6.Provider` the way Terraform's plugin host (hashicorp/go-plugin) expects:
//! magic-cookie check, protocol negotiation, AutoMTLS, a private unix socket, the handshake line on
//! stdout, JSON logs on stderr, and go-plugin's controller service for a clean shutdown.
//!
//! [`run`] is the whole `main` of the plugin binary; everything below it is private plumbing, one
//! concern per module:
//! - `handshake`: environment contract and the stdout handshake line (pure);
//! - `tls`: server certificate, pinned client-certificate verifier, rustls config;
//! - `socket`: the private 0700 socket directory, removed on exit;
//! - `connection`: accept loop and per-connection TLS handshakes;
//! - `controller`: `plugin.GRPCController` (Shutdown) and `plugin.GRPCStdio`;
//! - `services`: the three gRPC services dispatched behind one socket;
//! - `shutdown`: the stop switch they share;
//! - `logging`: the JSON log line Terraform understands (dates from `crate::civil_time`).

mod connection;
mod controller;
mod handshake;
mod logging;
mod services;
mod shutdown;
mod socket;
mod tls;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use tfplugin_protos::plugin::grpc_controller_server::GrpcControllerServer;
use tfplugin_protos::plugin::grpc_stdio_server::GrpcStdioServer;
pub use tfplugin_protos::tfplugin6::provider_server::Provider;
use tfplugin_protos::tfplugin6::provider_server::ProviderServer;
use tokio::signal::unix::{signal, SignalKind};

use self::controller::{Controller, Stdio};
use self::handshake::{PluginEnv, Startup};
use self::shutdown::ShutdownSignal;
use self::socket::PrivateSocketDir;

/// Largest gRPC message accepted or sent. Terraform allows messages up to 2 GiB (large plans and
/// states); tonic's 4 MiB default would fail them, so the limit is lifted entirely.
const MAX_MESSAGE_SIZE: usize = usize::MAX;

/// How long in-flight RPCs get to finish after Shutdown. Terraform kills the plugin 2 s after
/// asking it to shut down, so this stays well below that.
const GRACEFUL_SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(1500);

/// A provider that answers `Unimplemented` to every RPC (the generated defaults).
///
/// Useful to exercise the serving machinery on its own, in tests and until a real provider is
/// plugged into `main`.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnimplementedProvider;

#[tonic::async_trait]
impl Provider for UnimplementedProvider {}

/// Why serving failed after the handshake environment was accepted.
#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("{0}")]
    Socket(#[source] std::io::Error),
    #[error("cannot write the handshake line to stdout: {0}")]
    Handshake(#[source] std::io::Error),
    #[error("gRPC server failed: {0}")]
    Server(#[from] tonic::transport::Error),
}

/// Runs `provider` as a Terraform plugin and returns the process exit code; `main` is just
/// `plugin::run(MyProvider::new(), VERSION)`; `version` goes into the start-up log line.
///
/// - Without Terraform's magic cookie, prints an explanation on stderr and returns 1.
/// - When Terraform does not offer protocol 6, or start-up fails, prints the reason on stderr
///   and returns 1.
/// - Otherwise prints the handshake line, serves until Terraform calls
///   `plugin.GRPCController/Shutdown` (or sends SIGTERM), removes the socket directory and
///   returns 0. SIGINT is ignored: Terraform forwards Ctrl-C through `StopProvider`.
pub fn run<P: Provider>(provider: P, version: &'static str) -> ExitCode {
    let env = match handshake::read_env(|key| std::env::var(key).ok()) {
        Startup::NotAPlugin => {
            eprintln!("{}", handshake::NOT_A_PLUGIN_MESSAGE);
            return ExitCode::FAILURE;
        }
        Startup::Refused(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
        Startup::Serve(env) => env,
    };
    logging::init_from_env();

    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("provider")
        .build()
        .map_err(ServeError::Runtime)
        .and_then(|runtime| {
            let result = runtime.block_on(serve(provider, env, version));
            // Tasks still running (e.g. a stuck RPC past the grace period) must not delay exit.
            runtime.shutdown_timeout(Duration::from_millis(100));
            result
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "provider plugin failed");
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Everything between the accepted environment and the exit code.
async fn serve<P: Provider>(
    provider: P,
    env: PluginEnv,
    version: &'static str,
) -> Result<(), ServeError> {
    let shutdown = ShutdownSignal::new();
    install_signal_handlers(&shutdown)?;

    let (server_cert, acceptor) = match &env.client_cert_pem {
        Some(pem) => {
            let pinned = tls::parse_client_certs(pem)?;
            let identity = tls::generate_server_identity()?;
            let config = tls::server_config(&identity, pinned)?;
            (
                Some(identity.cert_der),
                Some(tokio_rustls::TlsAcceptor::from(config)),
            )
        }
        None => {
            tracing::warn!(
                "PLUGIN_CLIENT_CERT is not set (TF_DISABLE_PLUGIN_TLS?): serving without TLS"
            );
            (None, None)
        }
    };

    // Dropped at the end of this function, on success and error alike: removes the directory.
    let socket_dir =
        PrivateSocketDir::create_in(&std::env::temp_dir()).map_err(ServeError::Socket)?;
    let listener = socket_dir.bind().map_err(ServeError::Socket)?;

    let line = handshake::handshake_line(
        env.protocol_version,
        socket_dir.socket_path(),
        server_cert.as_deref(),
    );
    {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(ServeError::Handshake)?;
    }
    tracing::info!(
        version,
        network = "unix",
        address = %socket_dir.socket_path().display(),
        tls = server_cert.is_some(),
        "provider plugin serving"
    );

    let services = services::PluginServices::new(
        ProviderServer::new(provider)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
        GrpcControllerServer::new(Controller::new(shutdown.clone())),
        GrpcStdioServer::new(Stdio::new(shutdown.clone())),
    );
    let server = tonic::transport::Server::builder().serve_with_incoming_shutdown(
        services,
        connection::incoming(listener, acceptor),
        shutdown.triggered(),
    );
    tokio::pin!(server);

    tokio::select! {
        result = &mut server => result?,
        () = shutdown.triggered() => {
            match tokio::time::timeout(GRACEFUL_SHUTDOWN_TIMEOUT, &mut server).await {
                Ok(result) => result?,
                Err(_) => tracing::warn!("connections still open after the grace period; exiting anyway"),
            }
        }
    }
    tracing::debug!("provider plugin stopped");
    drop(socket_dir);
    Ok(())
}

/// SIGINT: ignored (Ctrl-C in the terminal reaches the whole process group, but Terraform wants
/// to stop us itself, through `StopProvider` then `Shutdown`). tokio replaces the default handler
/// for good once a listener is registered; the task only drains and logs.
///
/// SIGTERM: treated like `Shutdown`, so the socket directory is still removed.
fn install_signal_handlers(shutdown: &ShutdownSignal) -> Result<(), ServeError> {
    let mut interrupts = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
    let mut terminations = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    tokio::spawn(async move {
        while interrupts.recv().await.is_some() {
            tracing::debug!("ignoring SIGINT; Terraform stops the provider through StopProvider");
        }
    });
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        if terminations.recv().await.is_some() {
            tracing::debug!("SIGTERM received; shutting down");
            shutdown.trigger();
        }
    });
    Ok(())
}
