//! A panic in one RPC must not cost Terraform the plugin: tonic would drop the stream, Terraform
//! would print "Request cancelled" (or "plugin crashed") and lose every other in-flight call.
//! [`guarded`] runs an RPC's future so that a panic while it is polled becomes an error
//! diagnostic naming the RPC, logged once at ERROR with the panic's location and backtrace; the
//! plugin goes on serving.
//!
//! The backtrace is captured by a panic hook (the only place it still exists) into a
//! thread-local, and picked up by the guard on the same thread: `catch_unwind` wraps each poll,
//! and a panic unwinds within the poll that raised it.

use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

use super::diag::{Diagnostic, Diagnostics};

thread_local! {
    /// How many guarded polls are running on this thread (nested guards are allowed).
    static GUARDED: Cell<usize> = const { Cell::new(0) };
    /// Location and backtrace of the last panic raised inside a guarded poll on this thread.
    static LAST_PANIC: RefCell<Option<(String, Backtrace)>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs the hook that records where a guarded panic happened. Panics outside a guarded RPC
/// still go to the previous hook (the default one prints them on stderr).
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) == 0 {
                previous(info);
                return;
            }
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_else(|| "an unknown location".to_string());
            let backtrace = Backtrace::force_capture();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some((location, backtrace)));
        }));
    });
}

/// The panic payload as text: `panic!` with a format gives a `String`, a literal a `&str`.
fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(a panic without a message)"
    }
}

/// A panic caught in an RPC, as Terraform will show it.
#[derive(Debug)]
pub struct Panicked {
    pub diagnostics: Diagnostics,
}

/// Polls `fut` to completion; a panic in any poll ends it with [`Panicked`] instead of unwinding
/// into tonic. `rpc` is the protocol's method name, e.g. `PlanResourceChange`.
pub async fn guarded<F: Future>(rpc: &'static str, fut: F) -> Result<F::Output, Panicked> {
    install_hook();
    match (CatchUnwind {
        inner: Box::pin(fut),
    })
    .await
    {
        Ok(v) => Ok(v),
        Err(payload) => {
            let text = message(payload.as_ref()).to_string();
            let (location, backtrace) = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .map(|(l, b)| (l, b.to_string()))
                .unwrap_or_else(|| ("an unknown location".to_string(), String::new()));
            tracing::error!(rpc, panic = %text, location = %location, backtrace = %backtrace, "the provider panicked; the RPC failed and the plugin goes on serving");
            Err(Panicked {
                diagnostics: Diagnostic::error(
                    format!("The provider crashed in {rpc}"),
                    format!(
                        "panic at {location}: {text}\n\nThis is a bug in the provider; nothing else was affected and the plugin is still running. Please report it with the provider's log (TF_LOG=ERROR shows the backtrace)."
                    ),
                )
                .into(),
            })
        }
    }
}

struct CatchUnwind<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        GUARDED.with(|g| g.set(g.get() + 1));
        // The future is dropped right after a panic and never polled again, so whatever state it
        // left half-updated is not observed: asserting unwind safety is sound here.
        let result = panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx)));
        GUARDED.with(|g| g.set(g.get() - 1));
        match result {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_after_an_await_becomes_a_diagnostic_naming_the_rpc() {
        let r = guarded("PlanResourceChange", async {
            tokio::task::yield_now().await;
            let v: Vec<u8> = Vec::new();
            v[3]
        })
        .await;
        let d = r.unwrap_err().diagnostics;
        assert!(d.has_errors());
        let text = d.to_string();
        assert!(text.contains("crashed in PlanResourceChange"), "{text}");
        assert!(text.contains("index out of bounds"), "{text}");
        assert!(text.contains("guard.rs"), "{text}");
    }

    #[tokio::test]
    async fn values_pass_through_and_the_guard_can_be_used_again() {
        assert_eq!(guarded("A", async { 7 }).await.unwrap(), 7);
        let e = guarded("B", async { panic!("boom {}", 1) })
            .await
            .unwrap_err();
        assert!(e.diagnostics.to_string().contains("boom 1"));
        assert_eq!(guarded("C", async { "ok" }).await.unwrap(), "ok");
    }
}
