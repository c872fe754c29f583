//! The order in which old instances are taken: spread over availability zones, cheapest first.
//!
//! Each pick takes, among the zones that still have an old instance that is free to replace
//! (unhealthy or pending), or else among all zones with old instances left, the zone with the most
//! old instances left (ties: zone name), and from it the instance with the smallest id. So batches
//! alternate zones and the zones drain evenly, losing no more of one zone's capacity than needed,
//! and the pick sequence depends only on what is left — which is why a resumed release, planned
//! from a fresh snapshot, continues exactly where the original plan was.

use crate::classify::is_free_to_replace;
use crate::model::InstanceSnapshot;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) struct Picker<'a> {
    zones: Vec<Zone<'a>>,
    /// (left, zone index) of zones with free instances left; zone indexes follow name order.
    with_free: BTreeSet<(Reverse<u32>, usize)>,
    /// (left, zone index) of zones with any instance left.
    with_any: BTreeSet<(Reverse<u32>, usize)>,
    left: u32,
}

struct Zone<'a> {
    name: &'a str,
    free: Vec<&'a InstanceSnapshot>,
    healthy: Vec<&'a InstanceSnapshot>,
    next_free: usize,
    next_healthy: usize,
}

impl Zone<'_> {
    fn left(&self) -> u32 {
        (self.free.len() - self.next_free + self.healthy.len() - self.next_healthy) as u32
    }
    fn has_free(&self) -> bool {
        self.next_free < self.free.len()
    }
}

/// One picked instance.
pub(crate) struct Pick<'a> {
    pub instance: &'a InstanceSnapshot,
    pub zone: &'a str,
    /// Taking it out reduces healthy in-service capacity by one.
    pub costs_capacity: bool,
}

impl<'a> Picker<'a> {
    /// `sorted` must be sorted by id; each zone keeps that order.
    pub fn new(sorted: &[&'a InstanceSnapshot]) -> Self {
        let mut by_name: BTreeMap<&'a str, Zone<'a>> = BTreeMap::new();
        for &instance in sorted {
            let zone = by_name
                .entry(&instance.availability_zone)
                .or_insert_with(|| Zone {
                    name: &instance.availability_zone,
                    free: Vec::new(),
                    healthy: Vec::new(),
                    next_free: 0,
                    next_healthy: 0,
                });
            if is_free_to_replace(instance) {
                zone.free.push(instance);
            } else {
                zone.healthy.push(instance);
            }
        }
        let zones: Vec<Zone<'a>> = by_name.into_values().collect();
        let mut picker = Picker {
            with_free: BTreeSet::new(),
            with_any: BTreeSet::new(),
            left: sorted.len() as u32,
            zones,
        };
        for z in 0..picker.zones.len() {
            picker.index(z);
        }
        picker
    }

    pub fn left(&self) -> u32 {
        self.left
    }

    /// The instance [`Picker::next`] would take (allowing costly ones).
    pub fn peek(&self) -> Option<&'a InstanceSnapshot> {
        let (free, &(_, z)) = match self.with_free.first() {
            Some(entry) => (true, entry),
            None => (false, self.with_any.first()?),
        };
        let zone = &self.zones[z];
        if free {
            zone.free.get(zone.next_free).copied()
        } else {
            zone.healthy.get(zone.next_healthy).copied()
        }
    }

    /// The instance [`Picker::next`] would take if it costs healthy capacity; `None` when the
    /// next one is free (or none is left).
    pub fn peek_costly(&self) -> Option<&'a InstanceSnapshot> {
        if !self.with_free.is_empty() {
            return None;
        }
        let &(_, z) = self.with_any.first()?;
        let zone = &self.zones[z];
        zone.healthy.get(zone.next_healthy).copied()
    }

    /// The next instance, or `None` when none is left or the next one would cost healthy
    /// capacity and `allow_costly` is false. Free instances always come before costly ones.
    pub fn next(&mut self, allow_costly: bool) -> Option<Pick<'a>> {
        let (free, &(_, z)) = match self.with_free.first() {
            Some(entry) => (true, entry),
            None if allow_costly => (false, self.with_any.first()?),
            None => return None,
        };
        self.unindex(z);
        let zone = &mut self.zones[z];
        let instance = if free {
            zone.next_free += 1;
            zone.free[zone.next_free - 1]
        } else {
            zone.next_healthy += 1;
            zone.healthy[zone.next_healthy - 1]
        };
        let name = zone.name;
        self.left -= 1;
        self.index(z);
        Some(Pick {
            instance,
            zone: name,
            costs_capacity: !free,
        })
    }

    fn index(&mut self, z: usize) {
        let zone = &self.zones[z];
        let key = (Reverse(zone.left()), z);
        if zone.left() > 0 {
            self.with_any.insert(key);
        }
        if zone.has_free() {
            self.with_free.insert(key);
        }
    }

    fn unindex(&mut self, z: usize) {
        let key = (Reverse(self.zones[z].left()), z);
        self.with_any.remove(&key);
        self.with_free.remove(&key);
    }
}
