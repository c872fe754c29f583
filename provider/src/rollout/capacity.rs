//! The release's own share of the group's desired capacity, apart from everyone else's.
//!
//! An operator's `SetDesiredCapacity` or a scaling policy may change desired capacity while a
//! release runs. The release keeps it: it tracks what its own calls should have left desired
//! at, and takes any other value a read shows as set by someone else — the group's own capacity
//! from then on. Surges are added to it, and the restore at the end (also after a rollback)
//! returns to it, not to the number recorded at the start.
//!
//! A call whose answer was lost, or a decrementing termination of an instance that was already
//! leaving (AWS then decrements nothing), leaves the release unsure what desired is now: the
//! expectation becomes a range, and a read inside it is the release's own doing. A change by
//! someone else that lands inside that range, or that an absolute `UpdateAutoScalingGroup`
//! overwrites before any read saw it, cannot be told apart — a race on AWS as well.

use std::sync::Mutex;

#[derive(Debug)]
pub struct Ledger {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The group's own desired capacity: as recorded when the release began, or as someone
    /// else last set it during the release.
    base: u32,
    /// The sum of the increases others made: instances the group may launch for them.
    added: u32,
    /// Whether someone else changed it.
    changed: bool,
    /// `base` was changed since the record last stored it.
    unrecorded: bool,
    /// What desired capacity should be after the release's own calls: `lo..=hi`.
    lo: u32,
    hi: u32,
}

impl Ledger {
    /// `own`: the group's desired capacity before the release; `now`: desired as read now (an
    /// interrupted surge may still be in it).
    pub fn new(own: u32, now: u32) -> Ledger {
        Ledger {
            inner: Mutex::new(Inner {
                base: own,
                added: 0,
                changed: false,
                unrecorded: false,
                lo: now,
                hi: now,
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read showed `desired`: a value the release's own calls cannot explain was set by
    /// someone else, and becomes the group's own capacity. `SetDesiredCapacity` and target
    /// tracking set an absolute number — the capacity they want in service — so it is kept as
    /// it is rather than as a difference (a step policy's relative change, made while a surge
    /// was in, keeps the surge's share until the policy itself scales in again).
    pub fn observe(&self, desired: u32) {
        let mut i = self.inner();
        if (i.lo..=i.hi).contains(&desired) {
            i.lo = desired;
            i.hi = desired;
            return;
        }
        let from = if desired < i.lo { i.lo } else { i.hi };
        if desired > from {
            i.added += desired - from;
        }
        tracing::info!(
            from,
            to = desired,
            "desired capacity set to {desired} by someone else during the release: kept as the group's own capacity, surges add to it and the restore returns to it"
        );
        i.base = desired;
        i.changed = true;
        i.unrecorded = true;
        i.lo = desired;
        i.hi = desired;
    }

    /// The release set desired capacity to `desired`; `ok`: AWS said it did (otherwise it may
    /// or may not have).
    pub fn set(&self, desired: u32, ok: bool) {
        let mut i = self.inner();
        if ok {
            i.lo = desired;
            i.hi = desired;
        } else {
            i.lo = i.lo.min(desired);
            i.hi = i.hi.max(desired);
        }
    }

    /// The release asked for `n` decrementing terminations: each may have lowered desired
    /// capacity by one, or not (the instance was already leaving, or the answer was lost).
    pub fn decremented(&self, n: u32) {
        let mut i = self.inner();
        i.lo = i.lo.saturating_sub(n);
    }

    /// The group's own capacity, with what others set during the release: what a surge adds
    /// to, and what the restore returns to (within the group's own min and max).
    pub fn base(&self) -> u32 {
        self.inner().base
    }

    /// What the restore sets desired capacity to: [`Ledger::base`] within `min..=max`.
    pub fn restored(&self, min: u32, max: u32) -> u32 {
        self.base().clamp(min, max.max(min))
    }

    /// The group's own capacity, when someone else changed it since the last call: the record
    /// should store it, so that an apply that continues this release restores it too.
    pub fn take_unrecorded(&self) -> Option<u32> {
        let mut i = self.inner();
        std::mem::take(&mut i.unrecorded).then_some(i.base)
    }

    /// Whether someone else changed desired capacity during the release.
    pub fn changed(&self) -> bool {
        self.inner().changed
    }

    /// Desired capacity others added (increases only).
    pub fn added(&self) -> u32 {
        self.inner().added
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_own_calls_are_not_outside_changes() {
        let l = Ledger::new(10, 10);
        l.set(12, true);
        l.observe(12);
        l.decremented(2);
        l.observe(10);
        assert!(!l.changed());
        assert_eq!(l.base(), 10);
    }

    #[test]
    fn a_value_set_by_someone_else_is_kept_and_a_surge_adds_to_it() {
        let l = Ledger::new(10, 10);
        l.set(12, true);
        l.observe(14); // an operator: 14 while the surge of 2 ran
        assert_eq!((l.changed(), l.added(), l.base()), (true, 2, 14));
        l.set(16, true);
        l.decremented(2);
        l.observe(11); // a scaling policy took 3 away after the surge
        assert_eq!((l.added(), l.base()), (2, 11));
        assert_eq!(l.restored(10, 12), 11);
        assert_eq!(l.restored(12, 20), 12, "within the group's own min");
    }

    #[test]
    fn an_uncertain_call_widens_the_expectation_instead_of_blaming_others() {
        let l = Ledger::new(10, 10);
        l.set(12, false); // the answer was lost: 10 or 12
        l.observe(12);
        assert!(!l.changed());
        l.decremented(3); // one of them was already leaving: 10 is ours too
        l.observe(10);
        assert!(!l.changed());
        l.observe(13);
        assert_eq!((l.changed(), l.base(), l.added()), (true, 13, 3));
    }
}
