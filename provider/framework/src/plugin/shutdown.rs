//! One process-wide "stop serving" switch, flipped by `GRPCController/Shutdown` or SIGTERM and
//! watched by the server, the accept loop and open stdio streams.

use tokio::sync::watch;

/// A level-triggered, cloneable shutdown flag: once triggered it stays triggered, and waiters that
/// arrive late return at once.
#[derive(Debug, Clone)]
pub(crate) struct ShutdownSignal {
    tx: watch::Sender<bool>,
}

impl ShutdownSignal {
    /// A signal that has not fired.
    pub(crate) fn new() -> Self {
        Self {
            tx: watch::Sender::new(false),
        }
    }

    /// Fires the signal (idempotent).
    pub(crate) fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether the signal has fired.
    #[cfg(test)]
    pub(crate) fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the signal has fired.
    pub(crate) fn triggered(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            // The sender lives in `self` and its clones; if all are gone nobody can trigger any
            // more, which only happens once serving is over anyway.
            let _ = rx.wait_for(|fired| *fired).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waiters_before_and_after_the_trigger_return() {
        let signal = ShutdownSignal::new();
        let early = tokio::spawn(signal.triggered());
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!early.is_finished());
        assert!(!signal.is_triggered());
        signal.clone().trigger();
        tokio::time::timeout(Duration::from_secs(5), early)
            .await
            .unwrap()
            .unwrap();
        assert!(signal.is_triggered());
        tokio::time::timeout(Duration::from_secs(5), signal.triggered())
            .await
            .unwrap();
    }
}
