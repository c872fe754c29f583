//! A fault-injecting HTTP/1.1 proxy between the provider (or any SDK client) and moto, on the
//! loopback interface only.
//!
//! Each request is identified like the recorder does ([`AwsCall`]: `Action=` form field or
//! `X-Amz-Target` header; service and region from the SigV4 scope). Rules are looked at in
//! order; a rule applies when it matches the request (action or any action, service), is within
//! its time window ([`Rule::within`]), wins its seeded coin toss ([`Rule::with_probability`]) and
//! has uses left ([`Rule::times`]). [`Effect::Delay`] rules add latency and let the evaluation go
//! on; the FIRST other rule that applies decides the answer:
//! - [`Rule::respond`]: a canned answer, the request is not forwarded;
//! - [`Rule::aws_error`]: a canned AWS error in the protocol of the request's service;
//! - [`Rule::throttle`]: the throttling error of the request's service, as AWS sends it (EC2
//!   `RequestLimitExceeded` 503 XML, Auto Scaling/ELB `Throttling` 400 query XML, SSM
//!   `ThrottlingException` 400 JSON);
//! - [`Rule::server_error`]: a 500 `InternalError` / 503 `ServiceUnavailable`;
//! - [`Rule::drop_before`]: the connection is closed without forwarding (the request never
//!   reached AWS);
//! - [`Rule::drop_after`]: forwarded, moto answers, and the connection is closed without passing
//!   the answer on (the request reached AWS, the answer was lost: what idempotency is for);
//! - [`Rule::rewrite_json`]: forward, then transform a JSON answer (moto's SSM always reports
//!   `Success`; a test makes `GetCommandInvocation` say `Failed` this way).
//!
//! Everything else is forwarded unchanged, with two emulations of AWS where moto 5.2.1 differs
//! in a way that matters once answers get lost and calls are retried:
//! - a `RunInstances` that repeats an earlier request's `ClientToken` gets the earlier answer
//!   and launches nothing (moto ignores the token; AWS makes the call idempotent with it);
//! - an instance that a `DetachInstances` through this proxy took out of its group is refused by
//!   a later `DetachInstances` ("not part of Auto Scaling group") and
//!   `TerminateInstanceInAutoScalingGroup` ("not found"), as AWS refuses them (moto detaches
//!   "again", decrementing desired capacity a second time, or fails with a 500).
//!
//! The proxy runs on its own thread and tokio runtime
//! (so blocking test code, e.g. a terraform run, never starves it) and stops on drop.
//!
//! Bounds: it listens and forwards on loopback only; every fault can be limited in count
//! ([`Rule::times`]) and time ([`Rule::within`]); a delay is capped at [`MAX_DELAY`]. Random
//! choices are seeded ([`FaultProxy::start_seeded`]): the n-th request a rule sees gets the same
//! draw in every run with the same seed (requests reach a rule in the order the client sends
//! them, so a sequential client sees the same faults every time).

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
/// Longest latency one rule may add (a typo must not hang a test).
pub const MAX_DELAY: Duration = Duration::from_secs(30);

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
    /// The service's own throttling error (see the module documentation). Not forwarded.
    Throttle,
    /// A server error with this status (500 `InternalError`, 503 `ServiceUnavailable`, other:
    /// `InternalFailure`), in the request's protocol. Not forwarded.
    ServerError(u16),
    /// Wait this long (capped at [`MAX_DELAY`]), then go on with the next rules: latency adds
    /// up with whatever else applies.
    Delay(Duration),
    /// Close the client connection without forwarding or answering.
    DropBeforeForward,
    /// Forward, let moto process the request, then close the client connection without
    /// answering: the call happened but the client does not know it.
    DropAfterForward,
}

impl fmt::Debug for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Effect::Respond { status, .. } => write!(f, "Respond({status})"),
            Effect::AwsError { status, code, .. } => write!(f, "AwsError({status} {code})"),
            Effect::RewriteJson(_) => write!(f, "RewriteJson"),
            Effect::Throttle => write!(f, "Throttle"),
            Effect::ServerError(status) => write!(f, "ServerError({status})"),
            Effect::Delay(d) => write!(f, "Delay({d:?})"),
            Effect::DropBeforeForward => write!(f, "DropBeforeForward"),
            Effect::DropAfterForward => write!(f, "DropAfterForward"),
        }
    }
}

/// A fault rule: which requests it matches, how often it may apply, and its effect.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `None`: every action.
    action: Option<String>,
    service: Option<String>,
    limit: Option<usize>,
    /// Chance (0 to 1) that a matching request is hit; `None`: always.
    probability: Option<f64>,
    /// Active only this long after the proxy started.
    window: Option<Duration>,
    effect: Effect,
}

impl Rule {
    /// `action` is the operation name (`DescribeImages`, `GetCommandInvocation`; a
    /// `AmazonSSM.`-style prefix is accepted and ignored).
    pub fn new(action: &str, effect: Effect) -> Rule {
        Rule {
            action: Some(crate::aws_request::strip_target_prefix(action)),
            service: None,
            limit: None,
            probability: None,
            window: None,
            effect,
        }
    }

    /// A rule for every action (narrow it with [`Rule::in_service`]).
    pub fn any(effect: Effect) -> Rule {
        Rule {
            action: None,
            ..Rule::new("", effect)
        }
    }

    /// The service's throttling error for `action` (`"*"`: every action).
    pub fn throttle(action: &str) -> Rule {
        Rule::for_action(action, Effect::Throttle)
    }

    /// A 5xx answer for `action` (`"*"`: every action).
    pub fn server_error(action: &str, status: u16) -> Rule {
        Rule::for_action(action, Effect::ServerError(status))
    }

    /// Latency before `action` (`"*"`: every action) is answered; other rules still apply.
    pub fn delay(action: &str, by: Duration) -> Rule {
        Rule::for_action(action, Effect::Delay(by.min(MAX_DELAY)))
    }

    /// Close the connection before `action` reaches moto.
    pub fn drop_before(action: &str) -> Rule {
        Rule::for_action(action, Effect::DropBeforeForward)
    }

    /// Let `action` reach moto, then lose its answer.
    pub fn drop_after(action: &str) -> Rule {
        Rule::for_action(action, Effect::DropAfterForward)
    }

    fn for_action(action: &str, effect: Effect) -> Rule {
        if action == "*" {
            Rule::any(effect)
        } else {
            Rule::new(action, effect)
        }
    }

    /// Hit only a share `p` (0 to 1) of the matching requests, drawn from the proxy's seed.
    pub fn with_probability(mut self, p: f64) -> Rule {
        self.probability = Some(p.clamp(0.0, 1.0));
        self
    }

    /// Apply only during the first `d` after the proxy started; later requests pass.
    pub fn within(mut self, d: Duration) -> Rule {
        self.window = Some(d);
        self
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
        self.action
            .as_deref()
            .is_none_or(|a| call.action.as_deref() == Some(a))
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
    /// Index (in the list given to [`FaultProxy::start`]) of the rule that decided the answer,
    /// if any (latency rules are not counted here; see `delayed`).
    pub rule: Option<usize>,
    /// Status sent back to the client (502 when moto could not be reached; 0 when the
    /// connection was dropped without an answer).
    pub status: u16,
    /// Latency the proxy added.
    pub delayed: Duration,
    /// Whether moto received the request.
    pub forwarded: bool,
    /// The request body (lossy UTF-8, at most [`MAX_LOGGED_BODY`] bytes): what a test asserts
    /// the provider asked for, e.g. the ingress rules of a security group.
    pub body: String,
}

/// Longest request body kept in [`ProxiedCall::body`].
pub const MAX_LOGGED_BODY: usize = 64 * 1024;

fn logged_body(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(MAX_LOGGED_BODY)]).into_owned()
}

struct State {
    upstream: SocketAddr,
    rules: Vec<Rule>,
    /// How many times each rule applied.
    hits: Vec<AtomicUsize>,
    /// How many matching requests each rule has seen (the index of its next random draw).
    seen: Vec<AtomicUsize>,
    seed: u64,
    started: std::time::Instant,
    log: Mutex<Vec<ProxiedCall>>,
    connections: tokio::sync::Semaphore,
    /// Answers to `RunInstances` by `ClientToken` (AWS's idempotency, which moto lacks).
    client_tokens: Mutex<std::collections::HashMap<String, Message>>,
    /// Instances detached from their group through this proxy.
    detached: Mutex<std::collections::HashSet<String>>,
}

/// What the rules decided for one request.
struct Decision {
    delay: Duration,
    /// The deciding rule, if any.
    rule: Option<usize>,
}

impl State {
    /// Total latency of the applying [`Effect::Delay`] rules, and the first other rule that
    /// applies (uses are counted here).
    fn decide(&self, call: &AwsCall) -> Decision {
        let mut delay = Duration::ZERO;
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.matches(call) {
                continue;
            }
            if rule.window.is_some_and(|w| self.started.elapsed() > w) {
                continue;
            }
            if let Some(p) = rule.probability {
                let n = self.seen[i].fetch_add(1, Ordering::SeqCst);
                if unit_draw(self.seed, i as u64, n as u64) >= p {
                    continue;
                }
            }
            let limit = rule.limit.unwrap_or(usize::MAX);
            let used = self.hits[i]
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| {
                    (h < limit).then_some(h + 1)
                })
                .is_ok();
            if !used {
                continue;
            }
            match &rule.effect {
                Effect::Delay(d) => delay = (delay + *d).min(MAX_DELAY),
                _ => {
                    return Decision {
                        delay,
                        rule: Some(i),
                    }
                }
            }
        }
        Decision { delay, rule: None }
    }
}

/// A uniform draw in [0, 1) from (seed, rule, n): splitmix64 over the three, so each rule has
/// its own reproducible sequence whatever other rules do.
fn unit_draw(seed: u64, rule: u64, n: u64) -> f64 {
    let mut z =
        seed ^ rule.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
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
        FaultProxy::start_seeded(upstream_endpoint, 0, rules)
    }

    /// [`FaultProxy::start`] with a seed for the random choices of
    /// [`Rule::with_probability`]: the same seed gives the same faults.
    pub fn start_seeded(upstream_endpoint: &str, seed: u64, rules: Vec<Rule>) -> FaultProxy {
        let upstream = parse_loopback_endpoint(upstream_endpoint);
        let listener = StdTcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let state = Arc::new(State {
            upstream,
            hits: rules.iter().map(|_| AtomicUsize::new(0)).collect(),
            seen: rules.iter().map(|_| AtomicUsize::new(0)).collect(),
            seed,
            started: std::time::Instant::now(),
            rules,
            log: Mutex::new(Vec::new()),
            connections: tokio::sync::Semaphore::new(MAX_CONNECTIONS),
            client_tokens: Mutex::new(Default::default()),
            detached: Mutex::new(Default::default()),
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

    /// How many requests got a fault (any rule but latency decided their answer, or they were
    /// dropped), per effect name (`Throttle`, `ServerError(503)`, `DropAfterForward`, ...).
    pub fn faults(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for c in self.calls() {
            if let Some(i) = c.rule {
                *out.entry(format!("{:?}", self.state.rules[i].effect))
                    .or_insert(0) += 1;
            }
        }
        out
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
#[derive(Clone)]
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
        let client_token = (call.action.as_deref() == Some("RunInstances"))
            .then(|| crate::aws_request::form_field(&request.body, "ClientToken"))
            .flatten();
        let replay = client_token.as_ref().and_then(|t| {
            state
                .client_tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(t)
                .cloned()
        });
        if let Some(response) = replay {
            state
                .log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(ProxiedCall {
                    call,
                    rule: None,
                    status: 200,
                    delayed: Duration::ZERO,
                    forwarded: false,
                    body: logged_body(&request.body),
                });
            write_message(&mut write, &response, close).await?;
            if close {
                return Ok(());
            }
            continue;
        }
        let remember = |response: &Message| {
            if let Some(t) = &client_token {
                if response.start.split_whitespace().nth(1) == Some("200") {
                    state
                        .client_tokens
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(t.clone(), response.clone());
                }
            }
        };
        // AWS refuses to detach or terminate-in-group an instance no longer in its group.
        let ids = instance_ids(&request.body);
        let action = call.action.clone().unwrap_or_default();
        let refused =
            if action == "DetachInstances" || action == "TerminateInstanceInAutoScalingGroup" {
                let detached = state.detached.lock().unwrap_or_else(|p| p.into_inner());
                ids.iter().find(|id| detached.contains(*id)).cloned()
            } else {
                None
            };
        if let Some(id) = refused {
            let message = if action == "DetachInstances" {
                format!("The instance {id} is not part of Auto Scaling group (fault proxy: detached earlier).")
            } else {
                format!("Instance Id not found - No managed instance found for instance ID: {id}")
            };
            let response = aws_error(&call, &request, 400, "ValidationError", &message);
            state
                .log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(ProxiedCall {
                    call,
                    rule: None,
                    status: 400,
                    delayed: Duration::ZERO,
                    forwarded: false,
                    body: logged_body(&request.body),
                });
            write_message(&mut write, &response, close).await?;
            if close {
                return Ok(());
            }
            continue;
        }
        let remember_detach = |response: &Message| {
            if action == "DetachInstances"
                && response.start.split_whitespace().nth(1) == Some("200")
            {
                state
                    .detached
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(ids.iter().cloned());
            }
        };
        let decision = state.decide(&call);
        let rule = decision.rule;
        if !decision.delay.is_zero() {
            tokio::time::sleep(decision.delay).await;
        }
        let log = |status: u16, forwarded: bool| {
            state
                .log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(ProxiedCall {
                    call: call.clone(),
                    rule,
                    status,
                    delayed: decision.delay,
                    forwarded,
                    body: logged_body(&request.body),
                });
        };

        let (response, forwarded) = match rule.map(|i| &state.rules[i].effect) {
            Some(Effect::Respond {
                status,
                content_type,
                body,
            }) => (canned(*status, content_type, body.clone()), false),
            Some(Effect::AwsError {
                status,
                code,
                message,
            }) => (aws_error(&call, &request, *status, code, message), false),
            Some(Effect::Throttle) => {
                let (status, code) = throttling(&call, &request);
                (
                    aws_error(&call, &request, status, code, "Rate exceeded (fault proxy)"),
                    false,
                )
            }
            Some(Effect::ServerError(status)) => {
                let code = match status {
                    500 => "InternalError",
                    503 => "ServiceUnavailable",
                    _ => "InternalFailure",
                };
                (
                    aws_error(
                        &call,
                        &request,
                        *status,
                        code,
                        "injected by the fault proxy",
                    ),
                    false,
                )
            }
            Some(Effect::RewriteJson(f)) => {
                let mut response = forward(state.upstream, &request).await;
                rewrite_json(&mut response, f.as_ref());
                (response, true)
            }
            Some(Effect::DropBeforeForward) => {
                log(0, false);
                return Ok(()); // closes both halves: the client sees the connection end
            }
            Some(Effect::DropAfterForward) => {
                let response = forward(state.upstream, &request).await;
                remember(&response);
                remember_detach(&response);
                log(0, true);
                return Ok(());
            }
            Some(Effect::Delay(_)) | None => {
                let response = forward(state.upstream, &request).await;
                remember(&response);
                remember_detach(&response);
                (response, true)
            }
        };
        let status = response
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        log(status, forwarded);
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

/// Instance ids of a query-protocol request (`InstanceId`, `InstanceIds.member.N`).
fn instance_ids(body: &[u8]) -> Vec<String> {
    let Ok(text) = std::str::from_utf8(body) else {
        return vec![];
    };
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == "InstanceId" || k.starts_with("InstanceIds.member."))
        .filter_map(|(k, _)| crate::aws_request::form_field(body, k))
        .collect()
}

/// The throttling answer AWS gives for the request's service: EC2 `RequestLimitExceeded` (503),
/// SSM and other JSON services `ThrottlingException` (400), Auto Scaling, ELB and other query
/// services `Throttling` (400).
fn throttling(call: &AwsCall, request: &Message) -> (u16, &'static str) {
    if header(&request.headers, "x-amz-target").is_some() {
        (400, "ThrottlingException")
    } else if call.service.as_deref() == Some("ec2") {
        (503, "RequestLimitExceeded")
    } else {
        (400, "Throttling")
    }
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
