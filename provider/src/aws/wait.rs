//! Waiting for AWS to reach a state: exponential backoff with jitter, a deadline, and
//! cancellation. No fixed sleeps: the first probe is immediate, and the interval grows only while
//! nothing happens, so fast transitions (and the emulator) cost almost nothing.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::cancel::Cancel;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub factor: f64,
}

impl Backoff {
    /// For things that usually take seconds (instance state changes, command results).
    pub const SECONDS: Backoff = Backoff {
        first: Duration::from_millis(200),
        max: Duration::from_secs(5),
        factor: 1.6,
    };
    /// For things that take minutes (AMIs becoming available): poll gently, AWS throttles
    /// Describe calls per account.
    pub const MINUTES: Backoff = Backoff {
        first: Duration::from_millis(500),
        max: Duration::from_secs(15),
        factor: 1.5,
    };

    /// The delay before attempt `n` (0-based), with ±20% jitter so parallel waiters spread out.
    pub fn delay(&self, n: u32) -> Duration {
        let base = self.first.as_secs_f64() * self.factor.powi(n.min(64) as i32);
        let capped = base.min(self.max.as_secs_f64());
        let jitter = 0.8 + fastrand::f64() * 0.4;
        Duration::from_secs_f64(capped * jitter)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WaitError<E> {
    #[error("timed out after {}s waiting for {what}", after.as_secs())]
    TimedOut { what: String, after: Duration },
    #[error("cancelled while waiting for {what}")]
    Cancelled { what: String },
    #[error(transparent)]
    Failed(E),
}

/// Calls `probe` until it returns `Ok(Some(_))`, an error, the deadline passes or `cancel` trips.
pub async fn until<T, E, F, Fut>(
    what: &str,
    timeout: Duration,
    backoff: Backoff,
    cancel: &Cancel,
    mut probe: F,
) -> Result<T, WaitError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let start = Instant::now();
    let mut attempt = 0u32;
    loop {
        if cancel.is_tripped() {
            return Err(WaitError::Cancelled {
                what: what.to_string(),
            });
        }
        if let Some(v) = probe().await.map_err(WaitError::Failed)? {
            return Ok(v);
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(WaitError::TimedOut {
                what: what.to_string(),
                after: elapsed,
            });
        }
        let delay = backoff.delay(attempt).min(timeout - elapsed);
        attempt += 1;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.tripped() => return Err(WaitError::Cancelled { what: what.to_string() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const FAST: Backoff = Backoff {
        first: Duration::from_millis(1),
        max: Duration::from_millis(5),
        factor: 2.0,
    };

    #[tokio::test]
    async fn returns_the_first_ready_value() {
        let n = Cell::new(0);
        let r: Result<u32, WaitError<()>> =
            until("x", Duration::from_secs(5), FAST, &Cancel::new(), || {
                n.set(n.get() + 1);
                let v = n.get();
                async move { Ok((v == 3).then_some(v)) }
            })
            .await;
        assert_eq!(r, Ok(3));
    }

    #[tokio::test]
    async fn errors_stop_the_wait() {
        let r: Result<(), WaitError<&str>> = until(
            "x",
            Duration::from_secs(5),
            FAST,
            &Cancel::new(),
            || async { Err("boom") },
        )
        .await;
        assert_eq!(r, Err(WaitError::Failed("boom")));
    }

    #[tokio::test]
    async fn deadline_and_cancel() {
        let r: Result<(), WaitError<()>> = until(
            "thing",
            Duration::from_millis(20),
            FAST,
            &Cancel::new(),
            || async { Ok(None) },
        )
        .await;
        assert!(matches!(r, Err(WaitError::TimedOut { .. })));
        let c = Cancel::new();
        c.trip();
        let r: Result<(), WaitError<()>> =
            until("thing", Duration::from_secs(5), FAST, &c, || async {
                Ok(None)
            })
            .await;
        assert_eq!(
            r,
            Err(WaitError::Cancelled {
                what: "thing".into()
            })
        );
    }

    #[test]
    fn delays_grow_to_the_cap_with_bounded_jitter() {
        let b = Backoff::SECONDS;
        let d0 = b.delay(0).as_secs_f64();
        assert!((0.16..=0.24).contains(&d0), "{d0}");
        let d20 = b.delay(20).as_secs_f64();
        assert!((4.0..=6.0).contains(&d20), "{d20}");
    }
}
