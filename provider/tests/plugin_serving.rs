//! The plugin binary as Terraform sees it: started with go-plugin's environment, answering with the
//! handshake line, serving gRPC over mutual TLS on a private unix socket, and exiting cleanly on
//! `plugin.GRPCController/Shutdown`.
//!
//! The client side does what Terraform's go-plugin client does: a self-signed P-521 CA certificate
//! in `PLUGIN_CLIENT_CERT`, trust in exactly the printed server certificate under the name
//! `localhost`, ALPN `h2`.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tfplugin_protos::plugin::grpc_controller_client::GrpcControllerClient;
use tfplugin_protos::plugin::grpc_stdio_client::GrpcStdioClient;
use tfplugin_protos::plugin::Empty;
use tfplugin_protos::tfplugin6::get_provider_schema;
use tfplugin_protos::tfplugin6::provider_client::ProviderClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint, Uri};

const PLUGIN: &str = env!("CARGO_BIN_EXE_terraform-provider-immutable");
const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// Generous bounds: the machine running the tests may be busy compiling.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
const RPC_TIMEOUT: Duration = Duration::from_secs(20);
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A client certificate shaped like Terraform's (go-plugin's `generateCert`): self-signed ECDSA
/// P-521, IsCA=true, client+server auth.
struct ClientIdentity {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
}

fn terraform_like_identity() -> ClientIdentity {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "HashiCorp");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key).unwrap();
    ClientIdentity {
        cert_pem: cert.pem(),
        cert_der: cert.der().clone(),
        key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

/// A per-test `$TMPDIR`, so the socket directory's creation and removal can be observed.
struct TestTmp(PathBuf);

impl TestTmp {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "plugin-serving-{name}-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn entries(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }
}

impl Drop for TestTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running plugin; killed if the test ends early (`kill_on_drop`).
struct RunningPlugin {
    child: Child,
    socket: PathBuf,
    /// `None` when TLS is disabled.
    server_cert: Option<CertificateDer<'static>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl RunningPlugin {
    async fn wait_for_exit(&mut self) -> ExitStatus {
        tokio::time::timeout(EXIT_TIMEOUT, self.child.wait())
            .await
            .expect("the plugin exits after Shutdown")
            .unwrap()
    }

    fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }
}

fn plugin_command(tmp: &TestTmp) -> Command {
    let mut cmd = Command::new(PLUGIN);
    cmd.env("TMPDIR", &tmp.0)
        .env_remove("TF_LOG")
        .env_remove("TF_LOG_PROVIDER")
        .env_remove("PLUGIN_CLIENT_CERT")
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Starts the plugin and parses its handshake line.
async fn start_plugin(
    tmp: &TestTmp,
    versions: &str,
    client: Option<&ClientIdentity>,
) -> RunningPlugin {
    let mut cmd = plugin_command(tmp);
    cmd.env("PLUGIN_PROTOCOL_VERSIONS", versions)
        .env("TF_LOG_PROVIDER", "debug");
    if let Some(client) = client {
        cmd.env("PLUGIN_CLIENT_CERT", &client.cert_pem);
    }
    let mut child = cmd.spawn().unwrap();

    let stderr = Arc::new(Mutex::new(Vec::new()));
    let mut stderr_reader = BufReader::new(child.stderr.take().unwrap()).lines();
    let sink = stderr.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr_reader.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });

    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(HANDSHAKE_TIMEOUT, stdout.next_line())
        .await
        .expect("handshake line within the timeout")
        .unwrap()
        .unwrap_or_else(|| panic!("no handshake line; stderr: {:?}", stderr.lock().unwrap()));
    // Keep draining stdout so the plugin never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });

    let fields: Vec<&str> = line.split('|').collect();
    assert_eq!(fields.len(), 6, "handshake line {line:?}");
    assert_eq!(&fields[..3], ["1", "6", "unix"], "{line}");
    assert_eq!(fields[4], "grpc", "{line}");
    let socket = PathBuf::from(fields[3]);
    assert!(socket.is_absolute(), "{line}");
    assert!(
        socket.starts_with(&tmp.0),
        "socket {socket:?} outside $TMPDIR"
    );

    let server_cert = match client {
        Some(_) => {
            assert!(
                !fields[5].contains('='),
                "certificate must be unpadded: {line}"
            );
            let der = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(fields[5])
                .expect("certificate in base64 STANDARD without padding");
            Some(CertificateDer::from(der))
        }
        None => {
            assert_eq!(fields[5], "", "no certificate without TLS: {line}");
            None
        }
    };
    RunningPlugin {
        child,
        socket,
        server_cert,
        stderr,
    }
}

/// Client TLS like go-plugin's: trust exactly the printed certificate as `localhost`, ALPN h2,
/// and present `identity` (or no certificate at all).
fn client_tls(
    server_cert: &CertificateDer<'static>,
    identity: Option<&ClientIdentity>,
) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server_cert.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(
                vec![id.cert_der.clone()],
                PrivateKeyDer::Pkcs8(id.key_der.clone_key()),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A tonic channel over the plugin's unix socket, TLS-wrapped when `tls` is given.
async fn connect(
    socket: &Path,
    tls: Option<tokio_rustls::TlsConnector>,
) -> Result<Channel, tonic::transport::Error> {
    let socket = socket.to_path_buf();
    Endpoint::from_static("http://localhost")
        .connect_timeout(RPC_TIMEOUT)
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            let tls = tls.clone();
            async move {
                let stream = UnixStream::connect(&socket).await?;
                let io: Box<dyn IoStream> = match tls {
                    Some(tls) => {
                        let name = ServerName::try_from("localhost").unwrap();
                        let tls_stream = tls.connect(name, stream).await?;
                        assert_eq!(
                            tls_stream.get_ref().1.alpn_protocol(),
                            Some(&b"h2"[..]),
                            "server negotiates h2"
                        );
                        Box::new(tls_stream)
                    }
                    None => Box::new(stream),
                };
                Ok::<_, io::Error>(TokioIo::new(io))
            }
        }))
        .await
}

trait IoStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> IoStream for T {}

/// Connects with `identity` and calls GetProviderSchema. Any answer from the provider counts: a
/// schema from the real provider, or `Unimplemented` from `plugin::UnimplementedProvider`; either
/// proves the request crossed TLS, HTTP/2 and the gRPC routing. Transport failures (a refused
/// handshake shows up as `Unavailable`/`Unknown` "transport error") and timeouts are errors.
async fn get_provider_schema(
    plugin: &RunningPlugin,
    identity: Option<&ClientIdentity>,
) -> Result<(), BoxError> {
    let tls = plugin
        .server_cert
        .as_ref()
        .map(|cert| client_tls(cert, identity));
    let call = async {
        let channel = connect(&plugin.socket, tls).await?;
        let result = ProviderClient::new(channel)
            .get_provider_schema(get_provider_schema::Request::default())
            .await;
        match result {
            Ok(_) => Ok(()),
            // Not the dispatcher's answer for a service it does not know: routing must work.
            Err(status)
                if status.code() == tonic::Code::Unimplemented
                    && !status.message().starts_with("unknown service") =>
            {
                Ok(())
            }
            Err(status) => Err::<(), BoxError>(status.into()),
        }
    };
    tokio::time::timeout(RPC_TIMEOUT, call)
        .await
        .map_err(|_| "RPC timed out")?
}

/// Opens a go-plugin-like session (stdio stream + Shutdown) and checks the exit.
async fn shutdown_and_check_exit(
    plugin: &mut RunningPlugin,
    identity: Option<&ClientIdentity>,
    tmp: &TestTmp,
) {
    let tls = plugin
        .server_cert
        .as_ref()
        .map(|cert| client_tls(cert, identity));
    let channel = tokio::time::timeout(RPC_TIMEOUT, connect(&plugin.socket, tls))
        .await
        .unwrap()
        .unwrap();
    // go-plugin subscribes to stdio right after connecting; the stream must not keep us alive.
    let mut stdio = tokio::time::timeout(
        RPC_TIMEOUT,
        GrpcStdioClient::new(channel.clone()).stream_stdio(()),
    )
    .await
    .unwrap()
    .expect("GRPCStdio stream opens")
    .into_inner();

    tokio::time::timeout(
        RPC_TIMEOUT,
        GrpcControllerClient::new(channel).shutdown(Empty {}),
    )
    .await
    .unwrap()
    .expect("Shutdown answers");

    let end = tokio::time::timeout(RPC_TIMEOUT, stdio.message())
        .await
        .expect("stdio stream ends after Shutdown");
    assert!(
        matches!(end, Ok(None)),
        "stdio stream ends cleanly (EOF), got {end:?}"
    );

    let status = plugin.wait_for_exit().await;
    assert!(status.success(), "exit status {status:?}");
    let socket_dir = plugin.socket.parent().unwrap();
    assert!(
        !socket_dir.exists(),
        "socket directory {socket_dir:?} removed"
    );
    assert!(tmp.entries().is_empty(), "left behind: {:?}", tmp.entries());

    // Give the stderr reader a moment to see EOF, then check every line is a log line Terraform
    // understands and that no grace-period timeout was needed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lines = plugin.stderr_lines();
    assert!(!lines.is_empty(), "TF_LOG_PROVIDER=debug produces logs");
    for line in &lines {
        assert_terraform_log_line(line);
        assert!(!line.contains("grace period"), "{line}");
    }
}

fn assert_terraform_log_line(line: &str) {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let level = v["@level"].as_str().unwrap_or_default();
    assert!(
        ["trace", "debug", "info", "warn", "error"].contains(&level),
        "{line}"
    );
    assert!(v["@message"].is_string(), "{line}");
    let ts = v["@timestamp"].as_str().unwrap_or_default();
    // 2006-01-02T15:04:05.000000Z
    assert_eq!(ts.len(), 27, "{line}");
    assert_eq!(&ts[19..20], ".", "{line}");
    assert!(ts[20..26].bytes().all(|b| b.is_ascii_digit()), "{line}");
    assert!(ts.ends_with('Z'), "{line}");
}

#[test]
fn without_the_magic_cookie_it_explains_and_exits_1() {
    for cookie in [None, Some("wrong")] {
        let mut cmd = std::process::Command::new(PLUGIN);
        cmd.env_remove("TF_PLUGIN_MAGIC_COOKIE")
            .env("PLUGIN_PROTOCOL_VERSIONS", "6,5");
        if let Some(c) = cookie {
            cmd.env("TF_PLUGIN_MAGIC_COOKIE", c);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{cookie:?}");
        assert!(out.stdout.is_empty(), "nothing on stdout: {:?}", out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("plugin for Terraform"), "{stderr}");
        assert!(stderr.contains("README"), "{stderr}");
    }
}

#[test]
fn without_protocol_6_it_refuses_and_exits_1() {
    let out = std::process::Command::new(PLUGIN)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,4")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("protocol 6") && stderr.contains("5,4"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_grpc_over_mtls_and_exits_0_on_shutdown() {
    for versions in ["6,5", "5,6"] {
        let tmp = TestTmp::new("mtls");
        let terraform = terraform_like_identity();
        let mut plugin = start_plugin(&tmp, versions, Some(&terraform)).await;

        let dir = plugin.socket.parent().unwrap();
        let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "socket directory {dir:?} is private");

        // Ctrl-C reaches plugins too; it must not kill this one.
        let sigint = std::process::Command::new("kill")
            .args(["-INT", &plugin.child.id().unwrap().to_string()])
            .status()
            .unwrap();
        assert!(sigint.success());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(plugin.child.try_wait().unwrap().is_none(), "SIGINT ignored");

        get_provider_schema(&plugin, Some(&terraform))
            .await
            .unwrap_or_else(|e| panic!("{versions}: RPC through mTLS failed: {e}"));

        shutdown_and_check_exit(&mut plugin, Some(&terraform), &tmp).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_the_pinned_certificate_are_rejected_and_serving_goes_on() {
    let tmp = TestTmp::new("reject");
    let terraform = terraform_like_identity();
    let mut plugin = start_plugin(&tmp, "6,5", Some(&terraform)).await;

    // (3) no client certificate at all.
    let no_cert = get_provider_schema(&plugin, None).await;
    assert!(
        no_cert.is_err(),
        "a client without a certificate got through"
    );

    // (4) a certificate of the same shape, but not the one in PLUGIN_CLIENT_CERT.
    let intruder = terraform_like_identity();
    let wrong_cert = get_provider_schema(&plugin, Some(&intruder)).await;
    assert!(
        wrong_cert.is_err(),
        "a client with another certificate got through"
    );

    assert!(plugin.child.try_wait().unwrap().is_none(), "still running");
    get_provider_schema(&plugin, Some(&terraform))
        .await
        .expect("the pinned client still gets through");

    shutdown_and_check_exit(&mut plugin, Some(&terraform), &tmp).await;

    // Both refusals happened in the server's TLS handshake, for the right reason, and were logged
    // at DEBUG. (tonic's channel may retry a failed connection, so each can appear more than once.)
    let rejections: Vec<String> = plugin
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("TLS handshake failed"))
        .collect();
    assert!(
        rejections
            .iter()
            .any(|l| l.contains("peer sent no certificates")),
        "{rejections:#?}"
    );
    assert!(
        rejections
            .iter()
            .any(|l| l.contains("ApplicationVerificationFailure")),
        "{rejections:#?}"
    );
    assert!(
        rejections
            .iter()
            .all(|l| l.contains("\"@level\":\"debug\"")),
        "{rejections:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_plugin_client_cert_it_serves_plaintext() {
    let tmp = TestTmp::new("plain");
    let mut plugin = start_plugin(&tmp, "6", None).await;
    get_provider_schema(&plugin, None)
        .await
        .expect("plaintext RPC");
    shutdown_and_check_exit(&mut plugin, None, &tmp).await;
}
