//! A fault-injecting HTTP/1.1 proxy between the provider (or any SDK client) and moto, on the
//! loopback interface only.
//!
//! Each request is identified like the recorder does ([`AwsCall`]: `Action=` form field or
//! `X-Amz-Target` header; service and region from the SigV4 scope) and the FIRST matching rule
//! whose count limit is not used up applies:
//! - [`Rule::respond`]: a canned answer, the request is not forwarded;
//! - [`Rule::aws_error`]: a canned AWS error in the protocol of the request's service;
//! - [`Rule::rewrite_json`]: forward, then transform a JSON answer (moto's SSM always reports
//!   `Success`; a test makes `GetCommandInvocation` say `Failed` this way).
//!
//! Everything else is forwarded unchanged. The proxy runs on its own thread and tokio runtime
//! (so blocking test code, e.g. a terraform run, never starves it) and stops on drop.
//!
//! Shape for later work: a rule is a matcher (action, service, count limit) plus an [`Effect`];
//! new faults (throttling, 5xx, latency, dropped connections, seeded random choice) are new
//! effects or matcher options, with the forwarding code unchanged.

use std::fmt;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpStream;

use crate::aws_request::AwsCall;
use crate::http::header;

/// Longest wait for the next request on an idle client connection (longer than the SDK's own
/// 90 s pool idle timeout, so the client always closes first).
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest time for moto to answer one forwarded request.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;
const MAX_CONNECTIONS: usize = 256;

type JsonRewrite = dyn Fn(serde_json::Value) -> serde_json::Value + Send + Sync;

/// What a matching rule does.
#[derive(Clone)]
pub enum Effect {
    /// Answer with this status, content type and body; do not forward.
    Respond {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    /// Answer with an AWS error (`code`, `message`) in the request's protocol: EC2 XML, the
    /// query XML of Auto Scaling/ELB, or the JSON of SSM. Not forwarded.
    AwsError {
        status: u16,
        code: String,
        message: String,
    },
    /// Forward, then pass a successful (2xx) JSON answer through this function.
    RewriteJson(Arc<JsonRewrite>),
}

impl fmt::Debug for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Effect::Respond { status, .. } => write!(f, "Respond({status})"),
            Effect::AwsError { status, code, .. } => write!(f, "AwsError({status} {code})"),
            Effect::RewriteJson(_) => write!(f, "RewriteJson"),
        }
    }
}

/// A fault rule: which requests it matches, how often it may apply, and its effect.
#[derive(Debug, Clone)]
pub struct Rule {
    action: String,
    service: Option<String>,
    limit: Option<usize>,
    effect: Effect,
}

impl Rule {
    /// `action` is the operation name (`DescribeImages`, `GetCommandInvocation`; a
    /// `AmazonSSM.`-style prefix is accepted and ignored).
    pub fn new(action: &str, effect: Effect) -> Rule {
        Rule {
            action: crate::aws_request::strip_target_prefix(action),
            service: None,
            limit: None,
            effect,
        }
    }

    /// A canned answer for `action`, not forwarded.
    pub fn respond(
        action: &str,
        status: u16,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> Rule {
        Rule::new(
            action,
            Effect::Respond {
                status,
                content_type: content_type.to_string(),
                body: body.into(),
            },
        )
    }

    /// A canned AWS error for `action` (e.g. 400 `RequestLimitExceeded`, 503 `Unavailable`).
    pub fn aws_error(action: &str, status: u16, code: &str, message: &str) -> Rule {
        Rule::new(
            action,
            Effect::AwsError {
                status,
                code: code.to_string(),
                message: message.to_string(),
            },
        )
    }

    /// Forward `action`, then transform its JSON answer.
    pub fn rewrite_json(
        action: &str,
        f: impl Fn(serde_json::Value) -> serde_json::Value + Send + Sync + 'static,
    ) -> Rule {
        Rule::new(action, Effect::RewriteJson(Arc::new(f)))
    }

    /// Apply at most `n` times; later matching requests go to the next rules / upstream.
    pub fn times(mut self, n: usize) -> Rule {
        self.limit = Some(n);
        self
    }

    /// Only match requests signed for this service (`ec2`, `autoscaling`, `ssm`, ...): some
    /// action names exist in several services (`DescribeTags`).
    pub fn in_service(mut self, service: &str) -> Rule {
        self.service = Some(service.to_string());
        self
    }

    fn matches(&self, call: &AwsCall) -> bool {
        call.action.as_deref() == Some(self.action.as_str())
            && self
                .service
                .as_ref()
                .is_none_or(|s| call.service.as_deref() == Some(s.as_str()))
    }
}

/// One request the proxy handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedCall {
    pub call: AwsCall,
    /// Index (in the list given to [`FaultProxy::start`]) of the rule that applied, if any.
    pub rule: Option<usize>,
    /// Status sent back to the client (502 when moto could not be reached).
    pub status: u16,
}

struct State {
    upstream: SocketAddr,
    rules: Vec<Rule>,
    hits: Vec<AtomicUsize>,
    log: Mutex<Vec<ProxiedCall>>,
    connections: tokio::sync::Semaphore,
}

impl State {
    /// The first rule that matches and still has uses left (its use is counted here).
    fn pick_rule(&self, call: &AwsCall) -> Option<usize> {
        self.rules.iter().enumerate().find_map(|(i, rule)| {
            if !rule.matches(call) {
                return None;
            }
            let limit = rule.limit.unwrap_or(usize::MAX);
            self.hits[i]
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| {
                    (h < limit).then_some(h + 1)
                })
                .ok()
                .map(|_| i)
        })
    }
}

/// A running fault proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream_endpoint`
    /// (`http://127.0.0.1:PORT`, e.g. [`crate::Moto::endpoint`]).
    pub fn start(upstream_endpoint: &str, rules: Vec<Rule>) -> FaultProxy {
        let upstream = parse_loopback_endpoint(upstream_endpoint);
        let listener = StdTcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let state = Arc::new(State {
            upstream,
            hits: rules.iter().map(|_| AtomicUsize::new(0)).collect(),
            rules,
            log: Mutex::new(Vec::new()),
            connections: tokio::sync::Semaphore::new(MAX_CONNECTIONS),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fault proxy runtime");
                rt.block_on(serve(listener, thread_state, rx));
                // Dropping the runtime here cancels the connection tasks still running.
            })
            .expect("spawn the fault proxy thread");
        FaultProxy {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` of the proxy: give it to the provider as its endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many times rule number `index` has applied.
    pub fn applied(&self, index: usize) -> usize {
        self.state.hits[index].load(Ordering::SeqCst)
    }

    /// Every request handled so far, in order of completion.
    pub fn calls(&self) -> Vec<ProxiedCall> {
        self.state
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many requests for `action` the proxy handled (answered by a rule or forwarded).
    pub fn count(&self, action: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.call.action.as_deref() == Some(action))
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn parse_loopback_endpoint(endpoint: &str) -> SocketAddr {
    let hostport = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("FaultProxy upstream must be http://HOST:PORT, got {endpoint:?}"))
        .trim_end_matches('/');
    let hostport = hostport.replace("localhost", "127.0.0.1");
    let addr: SocketAddr = hostport
        .parse()
        .unwrap_or_else(|e| panic!("FaultProxy upstream {endpoint:?}: {e}"));
    assert!(
        addr.ip().is_loopback(),
        "FaultProxy only forwards to loopback addresses, not {addr}"
    );
    addr
}

async fn serve(
    listener: StdTcpListener,
    state: Arc<State>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    // Bounded: past MAX_CONNECTIONS open connections, new ones wait here.
                    let Ok(_permit) = state.connections.acquire().await else { return };
                    let _ = handle_connection(stream, &state).await;
                });
            }
        }
    }
}

/// An HTTP/1.1 message: start line, headers in order, de-chunked body.
struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn handle_connection(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let request =
            match tokio::time::timeout(IDLE_TIMEOUT, read_request(&mut read, &mut write)).await {
                Ok(Ok(Some(request))) => request,
                _ => return Ok(()), // closed, idle too long, or not HTTP
            };
        let close =
            header(&request.headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let target = request
            .start
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        let call = AwsCall::identify(&target, &request.headers, &request.body);
        let rule = state.pick_rule(&call);

        let response = match rule.map(|i| &state.rules[i].effect) {
            Some(Effect::Respond {
                status,
                content_type,
                body,
            }) => canned(*status, content_type, body.clone()),
            Some(Effect::AwsError {
                status,
                code,
                message,
            }) => aws_error(&call, &request, *status, code, message),
            Some(Effect::RewriteJson(f)) => {
                let mut response = forward(state.upstream, &request).await;
                rewrite_json(&mut response, f.as_ref());
                response
            }
            None => forward(state.upstream, &request).await,
        };
        let status = response
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        state
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ProxiedCall { call, rule, status });
        write_message(&mut write, &response, close).await?;
        if close {
            return Ok(());
        }
    }
}

/// Reads one request; `None` on a clean close before its first byte.
async fn read_request<R, W>(read: &mut R, write: &mut W) -> std::io::Result<Option<Message>>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Some((start, headers)) = read_head(read).await? else {
        return Ok(None);
    };
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        write.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let body = read_body(read, &headers, true).await?;
    Ok(Some(Message {
        start,
        headers,
        body,
    }))
}

async fn read_head<R: AsyncBufRead + Unpin>(
    read: &mut R,
) -> std::io::Result<Option<(String, Vec<(String, String)>)>> {
    let mut start = String::new();
    // Tolerate empty lines between messages (RFC 9112 §2.2).
    while start.trim().is_empty() {
        start.clear();
        if read.read_line(&mut start).await? == 0 {
            return Ok(None);
        }
    }
    let mut total = start.len();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        let n = read.read_line(&mut line).await?;
        total += n;
        if n == 0 {
            return Err(invalid("connection closed inside the headers"));
        }
        if total > MAX_HEAD {
            return Err(invalid("headers too large"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Some((start.trim_end().to_string(), headers)))
}

/// Reads a body framed by chunked encoding or Content-Length; a response without either
/// (`is_request` false) runs to EOF.
async fn read_body<R: AsyncBufRead + Unpin>(
    read: &mut R,
    headers: &[(String, String)],
    is_request: bool,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            let mut size_line = String::new();
            read.read_line(&mut size_line).await?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| invalid("bad chunk size"))?;
            if size == 0 {
                loop {
                    let mut trailer = String::new();
                    if read.read_line(&mut trailer).await? == 0 || trailer.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            if body.len() + size > MAX_BODY {
                return Err(invalid("body too large"));
            }
            let at = body.len();
            body.resize(at + size, 0);
            read.read_exact(&mut body[at..]).await?;
            let mut crlf = [0u8; 2];
            read.read_exact(&mut crlf).await?;
        }
    } else if let Some(len) = header(headers, "content-length") {
        let len: usize = len.parse().map_err(|_| invalid("bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(invalid("body too large"));
        }
        body.resize(len, 0);
        read.read_exact(&mut body).await?;
        Ok(body)
    } else if is_request {
        Ok(body)
    } else {
        read.take(MAX_BODY as u64).read_to_end(&mut body).await?;
        Ok(body)
    }
}

/// Headers the proxy re-frames itself (hop-by-hop, or describing the framing).
fn is_framing_header(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "expect",
        "proxy-connection",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

async fn write_message<W: AsyncWrite + Unpin>(
    write: &mut W,
    message: &Message,
    close: bool,
) -> std::io::Result<()> {
    let mut head = format!("{}\r\n", message.start);
    for (k, v) in &message.headers {
        if !is_framing_header(k) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\n", message.body.len()));
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    write.write_all(head.as_bytes()).await?;
    write.write_all(&message.body).await?;
    write.flush().await
}

/// Sends the request to moto on a fresh connection and reads the whole answer; a 502 answer of
/// the proxy's own when moto cannot be reached in time.
async fn forward(upstream: SocketAddr, request: &Message) -> Message {
    let attempt = async {
        let mut stream = TcpStream::connect(upstream).await?;
        let _ = stream.set_nodelay(true);
        write_message(&mut stream, request, true).await?;
        let mut read = BufReader::new(stream);
        let (start, headers) = read_head(&mut read)
            .await?
            .ok_or_else(|| invalid("upstream closed without answering"))?;
        let status: u16 = start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let method_is_head = request.start.starts_with("HEAD ");
        let body = if method_is_head || status == 204 || status == 304 {
            Vec::new()
        } else {
            read_body(&mut read, &headers, false).await?
        };
        Ok::<_, std::io::Error>(Message {
            start,
            headers,
            body,
        })
    };
    match tokio::time::timeout(UPSTREAM_TIMEOUT, attempt).await {
        Ok(Ok(message)) => message,
        Ok(Err(e)) => canned(
            502,
            "text/plain",
            format!("fault proxy: upstream error: {e}"),
        ),
        Err(_) => canned(
            502,
            "text/plain",
            "fault proxy: upstream timed out".to_string(),
        ),
    }
}

fn rewrite_json(response: &mut Message, f: &JsonRewrite) {
    let ok = response
        .start
        .split_whitespace()
        .nth(1)
        .is_some_and(|s| s.starts_with('2'));
    if !ok {
        return;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&response.body) else {
        return;
    };
    response.body = serde_json::to_vec(&f(value)).expect("serialize JSON");
    // A checksum of the original body would now be wrong.
    response
        .headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("x-amz-crc32"));
}

fn canned(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Message {
    Message {
        start: format!("HTTP/1.1 {status} {}", reason(status)),
        headers: vec![
            ("Content-Type".to_string(), content_type.to_string()),
            ("x-amzn-RequestId".to_string(), request_id()),
        ],
        body: body.into(),
    }
}

fn aws_error(call: &AwsCall, request: &Message, status: u16, code: &str, message: &str) -> Message {
    let id = request_id();
    let json_protocol = header(&request.headers, "x-amz-target").is_some();
    let mut response = if json_protocol {
        let body = serde_json::json!({ "__type": code, "message": message });
        let mut m = canned(status, "application/x-amz-json-1.1", body.to_string());
        m.headers
            .push(("x-amzn-ErrorType".to_string(), code.to_string()));
        m
    } else if call.service.as_deref() == Some("ec2") {
        canned(
            status,
            "text/xml;charset=UTF-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code>\
                 <Message>{}</Message></Error></Errors><RequestID>{id}</RequestID></Response>",
                xml_escape(code),
                xml_escape(message)
            ),
        )
    } else {
        let kind = if status >= 500 { "Receiver" } else { "Sender" };
        canned(
            status,
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message>\
                 </Error><RequestId>{id}</RequestId></ErrorResponse>",
                xml_escape(code),
                xml_escape(message)
            ),
        )
    };
    response
        .headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("x-amzn-RequestId"));
    response.headers.push(("x-amzn-RequestId".to_string(), id));
    response
}

fn request_id() -> String {
    format!(
        "fault-proxy-{:08x}-{:04x}",
        fastrand::u32(..),
        fastrand::u16(..)
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn invalid(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}
