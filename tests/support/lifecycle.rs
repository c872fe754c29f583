//! What AWS does with an instance leaving an Auto Scaling group, judged from the calls the
//! provider made (as seen by the [`crate::FaultProxy`] in front of moto): moto stores lifecycle
//! hooks and target groups but never runs a hook or drains a target, so the tests check the
//! route each instance took, which is what decides both on AWS.
//!
//! - `TerminateInstanceInAutoScalingGroup`: the group terminates the instance itself: it is
//!   deregistered from its target groups / classic load balancers, drained for their
//!   deregistration delay, then held in `Terminating:Wait` by every `EC2_INSTANCE_TERMINATING`
//!   hook until the hook completes or its heartbeat timeout applies the default result.
//!   <https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html>
//! - `DetachInstances`: the instance leaves the group with no termination hook (hooks do not
//!   run for detached instances); a following EC2 `TerminateInstances` stops it without waiting
//!   for the draining, cutting off requests in flight.
//!   <https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html>
//!   <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#deregistration-delay>

use std::collections::BTreeMap;

use crate::ProxiedCall;

/// How one instance left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Departure {
    /// TerminateInstanceInAutoScalingGroup calls naming it: the hooked, drained route.
    pub through_group: usize,
    pub detached: usize,
    /// EC2 TerminateInstances calls naming it: no hook, no draining.
    pub through_ec2: usize,
}

impl Departure {
    /// Drained and through its termination hooks, as AWS runs them.
    pub fn hooked(&self) -> bool {
        self.through_group > 0 && self.detached == 0 && self.through_ec2 == 0
    }
}

/// Every instance named by a leaving call, and how it left.
pub fn departures(calls: &[ProxiedCall]) -> BTreeMap<String, Departure> {
    let mut out: BTreeMap<String, Departure> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.forwarded) {
        let field: fn(&mut Departure) -> &mut usize = match c.call.action.as_deref() {
            Some("TerminateInstanceInAutoScalingGroup") => |d| &mut d.through_group,
            Some("DetachInstances") => |d| &mut d.detached,
            Some("TerminateInstances") => |d| &mut d.through_ec2,
            _ => continue,
        };
        for id in instance_ids(&c.body) {
            *field(out.entry(id).or_default()) += 1;
        }
    }
    out
}

/// `InstanceId=…` and `InstanceIds.member.N=…` / `InstanceId.N=…` of a query-protocol body.
fn instance_ids(body: &str) -> Vec<String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| {
            *k == "InstanceId" || k.starts_with("InstanceIds.") || k.starts_with("InstanceId.")
        })
        .map(|(_, v)| v.to_string())
        .collect()
}
