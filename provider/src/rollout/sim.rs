//! A deterministic, in-memory Auto Scaling group behind [`GroupApi`]: the release engine runs on
//! it exactly as it runs on AWS, on tokio's clock (paused and advanced virtually in tests), with
//! a seeded random source for everything the cloud decides — boot times, instances that never
//! become healthy, slow terminations, load balancer lag, throttled and failing calls.
//!
//! What it models, and how it stands in for [`super::AwsGroup`] + the AWS SDK:
//! - **The group**: desired/min/max validated like AWS (`min ≤ desired ≤ max`, and a
//!   decrementing termination may not take desired below min); missing capacity is launched at
//!   once as `Pending` instances of the group's current launch setting, spread over the zones;
//!   surplus capacity is scaled in with AWS's default policy order (instances of an older launch
//!   setting first, then the oldest), which is what makes a careless capacity change cost
//!   healthy instances.
//! - **Instances**: `Pending` for a random boot time, then `InService` and `Healthy` — or never:
//!   instances of a *broken* image (and a share of all instances) either stay `Pending` forever
//!   or come up `Unhealthy` (and are replaced by the group 30 s later, as its health check does
//!   unless `ReplaceUnhealthy` is suspended). A terminated instance is `Terminating` for a
//!   while, then leaves.
//!   With load balancer health, an instance turns healthy there a random lag after `InService`.
//! - **The SDK layer**: the engine relies on the SDK's retries (throttling, 5xx, lost answers)
//!   for `AwsGroup`, so a retried call is modelled as already retried: it costs virtual time (the
//!   SDK's backoff) and then succeeds. With a small chance the retries run out and the call
//!   fails with a retryable error; a mutating call may have taken effect before that (its answer
//!   was lost). Repeating a termination is a no-op, as `AwsGroup::terminate` makes it.
//!
//! - **What AWS does that moto does not** (each off by default, drawn per seed by the sweep):
//!   - *draining*: a group-performed termination (TerminateInstanceInAutoScalingGroup, scale-in,
//!     an unhealthy replacement) deregisters the instance from its target group and waits the
//!     deregistration delay before the termination hooks and the stop; every instance carries
//!     requests in flight (each up to [`SimConfig::request`] long), and an instance that stops
//!     while receiving, or sooner than a request after its deregistration, drops them
//!     ([`SimGroup::dropped_requests`]).
//!     <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#deregistration-delay>
//!   - *lifecycle hooks*: `Pending:Wait` (added to the boot) and `Terminating:Wait` (after the
//!     draining), each the hook's action time capped by its heartbeat timeout, after which the
//!     default result applies; hooks run only for launches and terminations the group performs,
//!     never for a detached instance terminated through EC2 ([`SimConfig::detach_then_terminate`]
//!     models that route, to show what it drops).
//!     <https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html>,
//!     <https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html>
//!   - *warm pools* ([`SimConfig::warm_pool`]): pre-initialised instances beside the group,
//!     each on the image of the launch setting current when it was launched (a new launch
//!     template version does not touch them); a scale-out draws the warmed ones into service
//!     first (they boot in seconds), and the pool refills to its size from the launch setting
//!     current then (not while `Launch` is suspended); TerminateInstanceInAutoScalingGroup removes a pool instance (refilled
//!     too); DescribeWarmPool lists them (`Warmed:Pending` while warming, then
//!     `Warmed:Stopped`).
//!     <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html>,
//!     <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeWarmPool.html>
//!   - *another tool moving the launch template back* during the release, once.
//!   - *deregistered images*: the group's launches from them fail
//!     ([`SimGroup::missing_launches`]).
//!     <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/deregister-ami.html>
//!   - *read outages*: every Describe fails (after the SDK's retries) for a window, with a
//!     503 `ServiceUnavailable` (throttling is modelled apart, below).
//!   - *capacity changed by others* ([`SimConfig::outside`]): an operator's
//!     `SetDesiredCapacity` (refused outside min..max, as AWS validates it), and a dynamic
//!     scaling policy's `ChangeInCapacity` (capped at min and max; not invoked while
//!     `AlarmNotification` is suspended). A change that lands while an engine call that changes
//!     desired capacity is under way, with no read in between, cannot be told from the engine's
//!     own (an absolute `UpdateAutoScalingGroup` overwrites it, as on AWS): counted apart
//!     ([`SimGroup::outside_raced`]), not charged to the engine.
//!     <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetDesiredCapacity.html>,
//!     <https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html>,
//!     <https://docs.aws.amazon.com/autoscaling/ec2/userguide/suspend-resume-considerations.html>
//!   - *health check grace period* ([`SimConfig::grace`]): the group does not check a new
//!     instance until the grace period after it entered `InService`; until then it reports it
//!     `Healthy`, even one that fails its checks, then marks it `Unhealthy` and replaces it.
//!     <https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html>
//!   - *throttling shared by parallel releases* ([`SimConfig::throttle`]): AWS throttles an
//!     account's requests per Region with a token bucket, so releases of several groups in one
//!     account draw from one bucket; a call that finds it empty is retried by the SDK (up to
//!     3 attempts, exponential backoff with jitter) and fails with `Throttling` when every
//!     attempt found it empty.
//!     <https://docs.aws.amazon.com/AWSEC2/latest/devguide/ec2-api-throttling.html>,
//!     <https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>
//!   - *Standby* ([`SimConfig::standby`]): instances beside the group's capacity, out of
//!     its load balancer, never scaled in; `ExitStandby` (the release's, or an operator's at
//!     [`SimConfig::standby_exit_at`]) returns them to service and adds each one's
//!     weight to desired capacity (one without weights); past max size it is refused.
//!     <https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-enter-exit-standby.html>
//!   - *an Instance Refresh* of the group that has not finished ([`SimConfig::refresh`]):
//!     what `DescribeInstanceRefreshes` reports.
//!     <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeInstanceRefreshes.html>
//!
//! [`SimGroup::lowest_healthy`] is the lowest healthy in-service capacity seen after any change
//! (capacity only falls through the engine's own calls, so looking after each call is exact);
//! the tests assert it never drops below the release's floor over 1,000 seeded runs
//! (`SIM_RUNS=1000 cargo test -p terraform-provider-immutable --lib rollout::sim`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use release_planner::{GroupSnapshot, Health, InstanceSnapshot, LaunchSource, LifecycleState};
use tokio::time::Instant;

use super::group::{GroupApi, HealthSource, LaunchSetting};
use crate::aws::AwsError;

/// The cloud's behaviour in one simulated run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub group_name: String,
    pub instances: u32,
    pub min: u32,
    pub max: u32,
    pub zones: Vec<String>,
    pub image: String,
    /// Pending → InService, drawn uniformly.
    pub boot: (Duration, Duration),
    /// Terminating → gone.
    pub termination: (Duration, Duration),
    /// InService → healthy in the load balancer.
    pub elb_lag: (Duration, Duration),
    /// Whether the group has a load balancer (target group) at all.
    pub elb: bool,
    /// Images whose instances never become healthy (a broken release).
    pub broken_images: BTreeSet<String>,
    /// Chance that any new instance never becomes healthy.
    pub never_healthy: f64,
    /// From this time on, every instance launched fails its health checks, whatever its image
    /// (something they all depend on broke): a rollback's batch fails too.
    pub broken_from: Option<Duration>,
    /// Of the instances that never become healthy, the share that hangs in `Pending` (the
    /// others come up `InService` and fail their health checks).
    pub stuck_share: f64,
    /// Latency of one call, drawn uniformly.
    pub latency: (Duration, Duration),
    /// Chance that a call is throttled or hits a 5xx and is retried by the SDK (costs time).
    pub retried: f64,
    /// Chance that a call fails after the SDK's retries ran out.
    pub exhausted: f64,
    /// Every read fails (after the SDK's retries) from `.0` for `.1` of virtual time: a
    /// regional Describe outage. Mutations still go through.
    pub read_outage: Option<(Duration, Duration)>,
    /// Every read is throttled (after the SDK's retries) from `.0` for `.1`: other tools
    /// polling the account keep its shared bucket empty for reads. Mutations still go through.
    pub throttled_reads: Option<(Duration, Duration)>,
    /// Another tool (a second pipeline, a console user) points the group back at its original
    /// launch template version once, the first time it sees it changed at or after this time.
    pub template_reverted_at: Option<Duration>,
    /// The size of the group's warm pool (0: no pool), filled with instances of the original
    /// image at the start: a scale-out draws them first (they boot in seconds) before it
    /// launches from the launch setting, and the pool refills from the launch setting current
    /// at the refill (AWS keeps the pool at its size: MinSize, or the prepared capacity left).
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html>
    pub warm_pool: u32,
    /// The target group's deregistration delay: a target the group takes out of service drains
    /// this long before Auto Scaling terminates it (or, with no request left in flight, ELB
    /// ends the draining early; the model always waits, the slower case).
    /// <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#deregistration-delay>
    pub deregistration_delay: Duration,
    /// How long one request takes: one started just before the deregistration is in flight
    /// this long after it, and is dropped if its instance stops before it ends.
    pub request: Duration,
    /// An `autoscaling:EC2_INSTANCE_TERMINATING` lifecycle hook: the time its action takes
    /// (drawn), after the draining; the heartbeat timeout caps it (then the default result
    /// applies, and either result terminates the instance).
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html>
    pub termination_hook: Option<Hook>,
    /// An `autoscaling:EC2_INSTANCE_LAUNCHING` hook: new instances wait in `Pending:Wait`.
    pub launch_hook: Option<Hook>,
    /// The engine's removal before it went through the group: DetachInstances then EC2
    /// TerminateInstances in the same second, which skips the draining and the termination
    /// hooks. Kept to show that the traffic counter sees what that dropped.
    pub detach_then_terminate: bool,
    /// Deregistered images: the group cannot launch them (its launches fail, as on AWS; moto
    /// launches them anyway).
    /// <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/deregister-ami.html>
    pub missing_images: BTreeSet<String>,
    /// The first this many instances are protected from scale in (a scale-in skips them; an
    /// explicit termination does not).
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-protection.html>
    pub protected: u32,
    /// The protection of those instances is removed at this time (an operator's
    /// `SetInstanceProtection`), if ever.
    pub protection_removed_at: Option<Duration>,
    /// Capacity changes made by someone else, at virtual times from the start.
    pub outside: Vec<Outside>,
    /// The group's health check grace period: an instance that fails its checks is reported
    /// `Healthy` for this long after it entered `InService`.
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html>
    pub grace: Duration,
    /// The account's request bucket, shared by every group built with the same one.
    pub throttle: Option<std::sync::Arc<TokenBucket>>,
    /// An Instance Refresh of the group that has not finished: its id and status.
    pub refresh: Option<(String, String)>,
    /// Instances of the original image in `Standby` beside the group's capacity (put there
    /// with a decrement of desired capacity): out of the load balancer, not counted as
    /// capacity, never scaled in; `ExitStandby` returns them to service and adds each one's
    /// weight to desired capacity (one without weights).
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-enter-exit-standby.html>
    pub standby: u32,
    /// An operator returns every Standby instance to service at this time (as `ExitStandby`).
    pub standby_exit_at: Option<Duration>,
    /// The group's instance maintenance policy, as DescribeAutoScalingGroups reports it: the
    /// release's default floor and the bound of its surge (AWS acts on it only in its own
    /// replacements; [`SimGroup::peak_live`] is what the sweep checks against it).
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-maintenance-policy.html>
    pub maintenance_policy: Option<release_planner::MaintenancePolicy>,
    /// Weighted capacity: the overrides' `WeightedCapacity` (empty: an unweighted group). The
    /// group's sizes are then capacity units; each launch draws one weight (the allocation
    /// strategy's pick of a type), launches go on until the units cover desired capacity, even
    /// past it, and a decrementing termination lowers it by the instance's weight.
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-weighting.html>
    pub weights: Vec<u32>,
}

/// A capacity change made by someone other than the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// An operator's `SetDesiredCapacity` at `at`: refused (no change) outside min..max.
    SetDesired { at: Duration, desired: u32 },
    /// A step scaling policy's `ChangeInCapacity` at `at`, capped at min and max; skipped
    /// while `AlarmNotification` is suspended.
    Policy { at: Duration, change: i32 },
}

impl Outside {
    fn at(&self) -> Duration {
        match *self {
            Outside::SetDesired { at, .. } | Outside::Policy { at, .. } => at,
        }
    }
}

/// A token bucket on tokio's clock: `burst` tokens, refilled at `per_sec`.
#[derive(Debug)]
pub struct TokenBucket {
    burst: f64,
    per_sec: f64,
    state: Mutex<(f64, Option<Instant>)>,
    throttled: std::sync::atomic::AtomicU32,
}

impl TokenBucket {
    pub fn new(burst: u32, per_sec: f64) -> std::sync::Arc<TokenBucket> {
        std::sync::Arc::new(TokenBucket {
            burst: f64::from(burst),
            per_sec,
            state: Mutex::new((f64::from(burst), None)),
            throttled: Default::default(),
        })
    }

    /// Takes a token now, if there is one.
    fn take(&self) -> bool {
        let now = Instant::now();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = &mut *st;
        if let Some(l) = *last {
            *tokens =
                (*tokens + now.duration_since(l).as_secs_f64() * self.per_sec).min(self.burst);
        }
        *last = Some(now);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            self.throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            false
        }
    }

    /// Requests that found the bucket empty.
    pub fn throttled(&self) -> u32 {
        self.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A lifecycle hook: its action takes `action` (drawn uniformly), bounded by `heartbeat`.
#[derive(Debug, Clone, Copy)]
pub struct Hook {
    pub action: (Duration, Duration),
    pub heartbeat: Duration,
}

impl SimConfig {
    pub fn new(seed: u64, instances: u32) -> Self {
        SimConfig {
            seed,
            group_name: "sim".into(),
            instances,
            min: instances,
            max: instances,
            zones: vec!["sim-1a".into(), "sim-1b".into(), "sim-1c".into()],
            image: "ami-old".into(),
            boot: (Duration::from_secs(20), Duration::from_secs(120)),
            termination: (Duration::from_secs(5), Duration::from_secs(60)),
            elb_lag: (Duration::from_secs(5), Duration::from_secs(30)),
            elb: false,
            broken_images: BTreeSet::new(),
            never_healthy: 0.0,
            broken_from: None,
            stuck_share: 0.5,
            latency: (Duration::from_millis(20), Duration::from_millis(300)),
            retried: 0.0,
            exhausted: 0.0,
            read_outage: None,
            throttled_reads: None,
            template_reverted_at: None,
            warm_pool: 0,
            deregistration_delay: Duration::from_secs(300),
            request: Duration::from_secs(10),
            termination_hook: None,
            launch_hook: None,
            detach_then_terminate: false,
            missing_images: BTreeSet::new(),
            protected: 0,
            protection_removed_at: None,
            outside: vec![],
            grace: Duration::ZERO,
            throttle: None,
            refresh: None,
            standby: 0,
            standby_exit_at: None,
            maintenance_policy: None,
            weights: vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Pending {
        ready_at: Option<Instant>,
    },
    InService,
    /// Out of service and out of the capacity count until `ExitStandby`.
    Standby,
    Terminating {
        gone_at: Instant,
    },
}

#[derive(Debug, Clone)]
struct Inst {
    id: String,
    az: String,
    image: String,
    /// Order of launch (the oldest is scaled in first among equals).
    seq: u64,
    state: State,
    health: Health,
    /// Healthy in the load balancer from then on.
    elb_at: Option<Instant>,
    /// Fails its health checks (reported Unhealthy once the grace period is over).
    bad: bool,
    /// Entered InService (the grace period counts from then).
    in_service_at: Option<Instant>,
    /// When the group replaces it for being Unhealthy (its health check grace).
    replace_at: Option<Instant>,
    /// Taken out of its target group (no new requests from then on).
    deregistered_at: Option<Instant>,
    /// Went through the termination hook.
    hooked: bool,
    /// Capacity units it counts for (1 without weights).
    weight: u32,
}

/// The lowest healthy in-service capacity observed, and what had just happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lowest {
    pub healthy: u32,
    pub after: String,
    pub at_secs: u64,
}

struct World {
    cfg: SimConfig,
    rng: fastrand::Rng,
    start: Instant,
    desired: u32,
    min: u32,
    max: u32,
    instances: Vec<Inst>,
    seq: u64,
    launch: LaunchSetting,
    /// Image of every launch setting, by its encoded form.
    images: BTreeMap<String, String>,
    next_version: u32,
    tags: BTreeMap<String, String>,
    suspended: BTreeSet<String>,
    faults_on: bool,
    lowest: Option<Lowest>,
    calls: BTreeMap<&'static str, u32>,
    failures: u32,
    terminations: BTreeMap<String, u32>,
    /// Instances launched since the start (warm-pool draws included).
    launches: u32,
    /// The other tool of [`SimConfig::template_reverted_at`] has acted.
    reverted: bool,
    /// Requests cut off: instances that stopped while receiving or draining requests.
    dropped: u32,
    /// Launches the group attempted from a deregistered image (each one failed).
    missing_launches: u32,
    /// Old instances (on the original image) that left without their termination hook.
    unhooked: BTreeSet<String>,
    /// Outside changes applied so far (index into the sorted `cfg.outside`).
    outside_next: usize,
    /// The desired capacity others set last, once a read saw it.
    outside_seen: Option<u32>,
    /// The desired capacity others set since the last group read.
    unseen: Option<u32>,
    /// Desired capacity others took away (the healthy floor is lower by as much).
    outside_taken: u32,
    /// Desired capacity others added (the group launches for it).
    outside_added: u32,
    /// Outside changes overwritten by a capacity call before any read saw them.
    raced: u32,
    /// Calls that failed because the shared request bucket stayed empty.
    bucket_failures: u32,
    /// Capacity units the engine returned from Standby (added to desired capacity).
    standby_returned: u32,
    /// Units the group's own launches put above desired capacity (weights: it launches until
    /// the units cover desired, even past it). Kept until desired capacity is set lower, as a
    /// scale-in event is a new desired capacity below the group's current capacity.
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-instance-termination.html>
    overage: u32,
    /// What happened, with virtual seconds (the last [`EVENTS`] entries), for failure reports.
    events: std::collections::VecDeque<String>,
    /// Every tag value written, in order (what a killed apply would leave for the next).
    tag_writes: Vec<(String, String)>,
    /// The most instances in service or pending seen after any change.
    peak_live: u32,
    /// The warm pool's instances, oldest first ([`SimConfig::warm_pool`] of them, refilled).
    pool: Vec<PoolInst>,
}

/// An instance waiting in the warm pool: its image, and when it is warmed (drawable).
struct PoolInst {
    id: String,
    image: String,
    warmed_at: Instant,
}

const EVENTS: usize = 2000;

/// The simulated group. Cheap to query; every method advances the world to tokio's clock first.
pub struct SimGroup {
    name: String,
    world: Mutex<World>,
}

fn between(rng: &mut fastrand::Rng, (lo, hi): (Duration, Duration)) -> Duration {
    if hi <= lo {
        return lo;
    }
    let span = (hi - lo).as_millis() as u64;
    lo + Duration::from_millis(rng.u64(0..=span))
}

impl SimGroup {
    pub fn new(cfg: SimConfig) -> SimGroup {
        let now = Instant::now();
        let launch = LaunchSetting::Template {
            id: "lt-sim".into(),
            version: "1".into(),
        };
        let mut images = BTreeMap::new();
        images.insert(launch.encode(), cfg.image.clone());
        let mut world = World {
            rng: fastrand::Rng::with_seed(cfg.seed),
            start: now,
            desired: cfg.instances,
            min: cfg.min.min(cfg.instances),
            max: cfg.max.max(cfg.instances),
            instances: vec![],
            seq: 0,
            launch,
            images,
            next_version: 2,
            tags: BTreeMap::new(),
            suspended: BTreeSet::new(),
            faults_on: true,
            lowest: None,
            calls: BTreeMap::new(),
            failures: 0,
            terminations: BTreeMap::new(),
            launches: 0,
            reverted: false,
            dropped: 0,
            missing_launches: 0,
            unhooked: BTreeSet::new(),
            outside_next: 0,
            outside_seen: None,
            unseen: None,
            outside_taken: 0,
            outside_added: 0,
            raced: 0,
            bucket_failures: 0,
            standby_returned: 0,
            overage: 0,
            events: Default::default(),
            tag_writes: vec![],
            peak_live: 0,
            pool: Vec::new(),
            cfg,
        };
        world.cfg.outside.sort_by_key(Outside::at);
        // The group starts settled: every instance in service, healthy, on the old image; the
        // warm pool is filled beside it.
        let pool = std::mem::take(&mut world.cfg.warm_pool);
        while world.live() < world.desired {
            let image = world.cfg.image.clone();
            world.spawn(image, now);
        }
        world.overage = world.live() - world.desired;
        for i in &mut world.instances {
            i.state = State::InService;
            i.health = Health::Healthy;
            i.bad = false;
            i.elb_at = Some(now);
        }
        for _ in 0..world.cfg.standby {
            let image = world.cfg.image.clone();
            world.spawn(image, now);
            if let Some(i) = world.instances.last_mut() {
                i.state = State::Standby;
                i.bad = false;
                i.elb_at = None;
            }
        }
        world.cfg.warm_pool = pool;
        // The pool starts warmed.
        world.refill_pool(now);
        for p in &mut world.pool {
            p.warmed_at = now;
        }
        world.launches = 0;
        world.observe("start");
        SimGroup {
            name: world.cfg.group_name.clone(),
            world: Mutex::new(world),
        }
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Turns random call failures and retries on or off (a later apply on a calm day).
    pub fn set_faults(&self, on: bool) {
        self.world().faults_on = on;
    }

    pub fn lowest_healthy(&self) -> Option<Lowest> {
        self.world().lowest.clone()
    }

    /// Healthy in-service instances now.
    pub fn healthy_now(&self) -> u32 {
        let mut w = self.world();
        w.advance(Instant::now());
        w.healthy()
    }

    /// (desired, min, max) now.
    pub fn capacity(&self) -> (u32, u32, u32) {
        let w = self.world();
        (w.desired, w.min, w.max)
    }

    /// Image of every instance in the group's capacity (not leaving, not in Standby), by id.
    /// Capacity units of the live instances (their count without weights).
    pub fn live_units(&self) -> u32 {
        let mut w = self.world();
        w.advance(Instant::now());
        w.live()
    }

    pub fn live_images(&self) -> BTreeMap<String, String> {
        let mut w = self.world();
        w.advance(Instant::now());
        w.instances
            .iter()
            .filter(|i| !matches!(i.state, State::Terminating { .. } | State::Standby))
            .map(|i| (i.id.clone(), i.image.clone()))
            .collect()
    }

    /// Instances on `image` that have not stopped yet (those still draining included).
    /// The warm pool's instances and their images.
    pub fn pool_images(&self) -> BTreeMap<String, String> {
        self.world().pool_images()
    }

    pub fn present_on(&self, image: &str) -> usize {
        let mut w = self.world();
        w.advance(Instant::now());
        w.instances.iter().filter(|i| i.image == image).count()
    }

    /// Instances in Standby right now.
    pub fn standby_now(&self) -> usize {
        let mut w = self.world();
        w.advance(Instant::now());
        w.instances
            .iter()
            .filter(|i| i.state == State::Standby)
            .count()
    }

    pub fn tag_map(&self) -> BTreeMap<String, String> {
        self.world().tags.clone()
    }

    /// The most instances in service or pending at once (what an instance maintenance
    /// policy's MaxHealthyPercentage bounds), after any change.
    pub fn peak_live(&self) -> u32 {
        self.world().peak_live
    }

    /// Every tag value written so far, in order.
    pub fn tag_writes(&self) -> Vec<(String, String)> {
        self.world().tag_writes.clone()
    }

    pub fn suspended_now(&self) -> BTreeSet<String> {
        self.world().suspended.clone()
    }

    pub fn launch_now(&self) -> LaunchSetting {
        self.world().launch.clone()
    }

    /// Number of calls per operation so far.
    pub fn calls(&self) -> BTreeMap<&'static str, u32> {
        self.world().calls.clone()
    }

    /// The last events (calls, launches, terminations), oldest first.
    pub fn events(&self) -> Vec<String> {
        self.world().events.iter().cloned().collect()
    }

    /// Instances that stopped with requests in flight (each drops at least one request).
    pub fn dropped_requests(&self) -> u32 {
        let mut w = self.world();
        w.advance(Instant::now());
        w.dropped
    }

    /// Instances of the original image that stopped without their termination hook (only
    /// meaningful with [`SimConfig::termination_hook`]).
    pub fn unhooked(&self) -> BTreeSet<String> {
        let mut w = self.world();
        w.advance(Instant::now());
        w.unhooked.clone()
    }

    /// The desired capacity others set last (a change that raced an engine capacity call before
    /// any read saw it does not count).
    pub fn outside_desired(&self) -> Option<u32> {
        let w = self.world();
        // One no read saw yet, and no engine call raced, stands in the group as it was set.
        w.unseen.or(w.outside_seen)
    }

    /// Desired capacity others added during the run.
    pub fn outside_added(&self) -> u32 {
        self.world().outside_added
    }

    /// Desired capacity others took away during the run.
    pub fn outside_taken(&self) -> u32 {
        self.world().outside_taken
    }

    /// Outside changes overwritten before any read saw them (a race no engine can win).
    pub fn outside_raced(&self) -> u32 {
        self.world().raced
    }

    /// Instances the engine returned from Standby (`ExitStandby`).
    pub fn standby_returned(&self) -> u32 {
        self.world().standby_returned
    }

    /// Launches the group attempted from a deregistered image (not those after another tool
    /// pointed it back at one).
    pub fn missing_launches(&self) -> u32 {
        self.world().missing_launches
    }

    /// Instances launched since the start (the group's own launches included).
    pub fn launches(&self) -> u32 {
        self.world().launches
    }

    /// Calls that failed because the account's shared request bucket stayed empty through the
    /// SDK's retries.
    pub fn bucket_failures(&self) -> u32 {
        self.world().bucket_failures
    }

    /// Calls that failed after the SDK layer gave up.
    pub fn failures(&self) -> u32 {
        self.world().failures
    }

    /// Terminations that took effect, per instance (1 at most for each, by construction of a
    /// correct engine: a second one finds the instance already leaving).
    pub fn terminations(&self) -> BTreeMap<String, u32> {
        self.world().terminations.clone()
    }

    /// What a killed process leaves: its lock, held by an owner that no longer exists.
    pub fn kill_lock_owner(&self) {
        let mut w = self.world();
        let key = super::record::LOCK_TAG;
        if let Some(v) = w.tags.get(key).cloned() {
            if let Some(mut lock) = super::record::Lock::parse(&v) {
                let host = crate::owner::current()
                    .rsplitn(3, ':')
                    .nth(2)
                    .unwrap_or("host")
                    .to_string();
                lock.owner = format!("{host}:4000000000:1");
                w.tags.insert(key.to_string(), lock.to_string());
            }
        }
    }

    /// Latency, SDK retries and (rarely) an exhausted call. `Err(applied)`: the call fails,
    /// and for a mutation `applied` says whether it took effect before its answer was lost.
    async fn gate(&self, op: &'static str, mutating: bool) -> Result<(), bool> {
        let (delay, fail) = {
            let mut w = self.world();
            *w.calls.entry(op).or_insert(0) += 1;
            let latency = w.cfg.latency;
            let mut delay = between(&mut w.rng, latency);
            let mut fail = None;
            let t = Instant::now().duration_since(w.start);
            if !mutating
                && w.cfg
                    .read_outage
                    .is_some_and(|(from, len)| t >= from && t < from + len)
            {
                w.failures += 1;
                fail = Some(false);
            }
            if !mutating
                && w.cfg
                    .throttled_reads
                    .is_some_and(|(from, len)| t >= from && t < from + len)
            {
                w.failures += 1;
                fail = Some(false);
            }
            if w.faults_on && fail.is_none() {
                if w.rng.f64() < w.cfg.retried {
                    // The SDK's backoff for 1 to 3 retries (base 1 s, doubling, full jitter).
                    let retries = w.rng.u32(1..=3);
                    for k in 0..retries {
                        let cap = Duration::from_secs(1 << k);
                        delay += between(&mut w.rng, (Duration::ZERO, cap)) + latency.0;
                    }
                }
                if w.rng.f64() < w.cfg.exhausted {
                    w.failures += 1;
                    fail = Some(mutating && w.rng.bool());
                }
            }
            (delay, fail)
        };
        tokio::time::sleep(delay).await;
        let bucket = self.world().cfg.throttle.clone();
        let mut fail = fail;
        if let (Some(bucket), None) = (bucket, fail) {
            // The SDK's standard mode: 3 attempts, backoff base 1 s doubling, full jitter.
            let mut attempt = 0;
            while !bucket.take() {
                attempt += 1;
                if attempt == 3 {
                    let mut w = self.world();
                    w.failures += 1;
                    w.bucket_failures += 1;
                    fail = Some(false);
                    break;
                }
                let backoff = {
                    let mut w = self.world();
                    between(
                        &mut w.rng,
                        (Duration::ZERO, Duration::from_secs(1 << attempt)),
                    )
                };
                tokio::time::sleep(backoff).await;
            }
        }
        {
            let mut w = self.world();
            let note = match fail {
                None => op.to_string(),
                Some(true) => format!("{op} (applied, answer lost, retries exhausted)"),
                Some(false) => format!("{op} (failed, retries exhausted)"),
            };
            w.event(note);
        }
        match fail {
            Some(applied) => Err(applied),
            None => Ok(()),
        }
    }

    fn error(&self, op: &str) -> AwsError {
        AwsError {
            operation: op.to_string(),
            target: self.name.clone(),
            code: Some("Throttling".into()),
            message: "Rate exceeded (simulated: the SDK's retries ran out)".into(),
        }
    }

    /// Runs a mutation through the gate: on a lost answer it still happens, then fails.
    async fn mutate<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut World) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        match self.gate(op, true).await {
            Ok(()) => {
                let mut w = self.world();
                w.advance(Instant::now());
                let r = f(&mut w);
                w.observe(op);
                r
            }
            Err(applied) => {
                if applied {
                    let mut w = self.world();
                    w.advance(Instant::now());
                    let _ = f(&mut w);
                    w.observe(op);
                }
                Err(self.error(op))
            }
        }
    }

    /// A read during [`SimConfig::read_outage`]: the service answers 503 (not throttling).
    fn in_outage(&self) -> bool {
        let w = self.world();
        let t = Instant::now().duration_since(w.start);
        w.cfg
            .read_outage
            .is_some_and(|(from, len)| t >= from && t < from + len)
    }

    async fn read<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut World) -> T,
    ) -> Result<T, AwsError> {
        let outage = self.in_outage();
        self.gate(op, false).await.map_err(|_| {
            if outage {
                AwsError {
                    code: Some("ServiceUnavailable".into()),
                    message: "Service Unavailable (simulated outage, after the SDK's retries)"
                        .into(),
                    ..self.error(op)
                }
            } else {
                self.error(op)
            }
        })?;
        let mut w = self.world();
        w.advance(Instant::now());
        w.observe(op);
        Ok(f(&mut w))
    }
}

fn validation(op: &str, message: String) -> AwsError {
    AwsError {
        operation: op.to_string(),
        target: String::new(),
        code: Some("ValidationError".into()),
        message,
    }
}

impl World {
    fn event(&mut self, what: String) {
        let t = Instant::now().duration_since(self.start).as_secs();
        let line = format!(
            "t={t}s {what} [desired {} healthy {}]",
            self.desired,
            self.healthy()
        );
        if self.events.len() == EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(line);
    }

    /// Instances that really serve: in service, healthy, and not failing checks the group has
    /// not run yet (its grace period).
    fn healthy(&self) -> u32 {
        self.instances
            .iter()
            .filter(|i| i.state == State::InService && i.health == Health::Healthy && !i.bad)
            .map(|i| i.weight)
            .sum()
    }

    fn observe(&mut self, what: &str) {
        self.peak_live = self.peak_live.max(self.live());
        let healthy = self.healthy();
        if self.lowest.as_ref().is_none_or(|l| healthy < l.healthy) {
            self.lowest = Some(Lowest {
                healthy,
                after: what.to_string(),
                at_secs: Instant::now().duration_since(self.start).as_secs(),
            });
        }
    }

    /// Launches pool instances from the current launch setting until the pool has its size
    /// (warmed a boot time later). Nothing from a deregistered image: that launch fails.
    fn refill_pool(&mut self, now: Instant) {
        // A suspended Launch process is assumed to hold back the pool's launches too (AWS
        // documents it for scale-outs and ReplaceUnhealthy's replacements).
        // <https://docs.aws.amazon.com/autoscaling/ec2/userguide/understand-how-suspending-processes-affects-other-processes.html>
        if self.suspended.contains("Launch") {
            return;
        }
        let image = self
            .images
            .get(&self.launch.encode())
            .cloned()
            .unwrap_or_default();
        if self.cfg.missing_images.contains(&image) {
            return;
        }
        while (self.pool.len() as u32) < self.cfg.warm_pool {
            self.seq += 1;
            let id = format!("i-{:08x}{:04}", self.cfg.seed as u32, self.seq);
            let warmed_at = now + between(&mut self.rng, self.cfg.boot);
            self.event(format!("warm pool launches {id} ({image})"));
            self.pool.push(PoolInst {
                id,
                image: image.clone(),
                warmed_at,
            });
        }
    }

    /// The pool as DescribeWarmPool tells it.
    fn pool_view(&self, now: Instant) -> Option<release_planner::WarmPool> {
        (self.cfg.warm_pool > 0).then(|| release_planner::WarmPool {
            min_size: self.cfg.warm_pool,
            max_group_prepared_capacity: None,
            pool_state: release_planner::PoolState::Stopped,
            reuse_on_scale_in: false,
            instances: self
                .pool
                .iter()
                .map(|p| InstanceSnapshot {
                    id: p.id.clone(),
                    availability_zone: self.cfg.zones.first().cloned().unwrap_or_default(),
                    image_id: p.image.clone(),
                    lifecycle_state: LifecycleState::Other(
                        if p.warmed_at <= now {
                            "Warmed:Stopped"
                        } else {
                            "Warmed:Pending"
                        }
                        .into(),
                    ),
                    health: Health::Healthy,
                    protected_from_scale_in: false,
                    launch_time: None,
                    // A pool instance's weight is drawn when it enters service (see `launch`).
                    weighted_capacity: None,
                })
                .collect(),
        })
    }

    /// The images of the warm pool's instances, by id (empty without a pool).
    fn pool_images(&self) -> BTreeMap<String, String> {
        self.pool
            .iter()
            .map(|p| (p.id.clone(), p.image.clone()))
            .collect()
    }

    fn spawn(&mut self, image: String, now: Instant) {
        self.launches += 1;
        // A scale-out draws a warmed pool instance first, whatever its image.
        let drawn = self
            .pool
            .iter()
            .position(|p| p.warmed_at <= now)
            .map(|at| self.pool.remove(at));
        let (image, warm) = match &drawn {
            Some(p) => {
                self.event(format!("drawn from the warm pool: {} ({})", p.id, p.image));
                (p.image.clone(), true)
            }
            None => (image, false),
        };
        // AWS balances zones: the zone with the fewest live instances.
        let az = self
            .cfg
            .zones
            .iter()
            .min_by_key(|z| {
                self.instances
                    .iter()
                    .filter(|i| &&i.az == z && !matches!(i.state, State::Terminating { .. }))
                    .count()
            })
            .cloned()
            .unwrap_or_default();
        let broken = self.cfg.broken_images.contains(&image)
            || self
                .cfg
                .broken_from
                .is_some_and(|t| now.duration_since(self.start) >= t);
        let never = broken || self.rng.f64() < self.cfg.never_healthy;
        // A never-healthy instance either hangs in Pending or comes up Unhealthy.
        let stuck = never && self.rng.f64() < self.cfg.stuck_share;
        let boot = if warm {
            Duration::from_secs(5)
        } else {
            between(&mut self.rng, self.cfg.boot)
        } + self.hook_time(self.cfg.launch_hook);
        let lag = between(&mut self.rng, self.cfg.elb_lag);
        // Drawn only for weighted groups, so the draws of other seeds stay as they were.
        let weight = match self.cfg.weights.len() {
            0 => 1,
            n => self.cfg.weights[self.rng.usize(0..n)].max(1),
        };
        let id = match drawn {
            Some(p) => p.id,
            None => {
                self.seq += 1;
                format!("i-{:08x}{:04}", self.cfg.seed as u32, self.seq)
            }
        };
        self.event(format!("launch {id} ({image})"));
        self.instances.push(Inst {
            id,
            az,
            image,
            seq: self.seq,
            state: State::Pending {
                ready_at: (!stuck).then_some(now + boot),
            },
            health: Health::Healthy,
            elb_at: (!never).then_some(now + boot + lag),
            bad: never,
            in_service_at: None,
            replace_at: None,
            deregistered_at: None,
            hooked: false,
            weight,
        });
    }

    /// Time passes: boots finish, terminations complete; then the group reconciles its size.
    fn advance(&mut self, now: Instant) {
        let original = LaunchSetting::Template {
            id: "lt-sim".into(),
            version: "1".into(),
        };
        if let Some(at) = self.cfg.template_reverted_at {
            if !self.reverted && now.duration_since(self.start) >= at && self.launch != original {
                self.reverted = true;
                self.event(format!(
                    "another tool points the group back at {}",
                    original.describe()
                ));
                self.launch = original;
            }
        }
        self.apply_outside(now);
        if let Some(at) = self.cfg.standby_exit_at {
            if now.duration_since(self.start) >= at {
                self.cfg.standby_exit_at = None;
                let ids: Vec<String> = self
                    .instances
                    .iter()
                    .filter(|i| i.state == State::Standby)
                    .map(|i| i.id.clone())
                    .collect();
                if self.desired + self.standby_units(&ids) > self.max {
                    // As the engine's own call is (see `GroupApi::exit_standby` here).
                    self.event(format!(
                        "an operator's ExitStandby of {} is refused: desired capacity would exceed max size {}",
                        ids.join(", "),
                        self.max
                    ));
                } else {
                    self.event(format!("an operator returns {} to service", ids.join(", ")));
                    // Capacity someone else added, as an operator's SetDesiredCapacity would.
                    let n = self.exit_standby(&ids, now);
                    if n > 0 {
                        self.outside_added += n;
                        self.unseen = Some(self.desired);
                    }
                }
            }
        }
        let grace = self.cfg.grace;
        for i in &mut self.instances {
            if let State::Pending { ready_at: Some(t) } = i.state {
                if t <= now {
                    i.state = State::InService;
                    i.in_service_at = Some(t);
                    i.health = Health::Healthy;
                }
            }
            // Not checked during the grace period: reported Healthy until it ends.
            if let (true, Some(t), Health::Healthy) = (i.bad, i.in_service_at, i.health) {
                if t + grace <= now {
                    i.health = Health::Unhealthy;
                    // The group's health check replaces it a while later.
                    i.replace_at = Some(t + grace + Duration::from_secs(30));
                }
            }
        }
        if !self.suspended.contains("ReplaceUnhealthy") {
            let due: Vec<String> = self
                .instances
                .iter()
                .filter(|i| i.state == State::InService && i.replace_at.is_some_and(|t| t <= now))
                .map(|i| i.id.clone())
                .collect();
            for id in due {
                self.start_termination(&id, now);
            }
        }
        let (gone, kept): (Vec<Inst>, Vec<Inst>) = std::mem::take(&mut self.instances)
            .into_iter()
            .partition(|i| matches!(i.state, State::Terminating { gone_at } if gone_at <= now));
        self.instances = kept;
        for i in gone {
            self.stopped(&i);
        }
        self.reconcile(now);
        self.refill_pool(now);
    }

    /// An engine call changes desired capacity while an outside change no read saw is in: the
    /// two cannot be told apart (an absolute one overwrites it).
    fn race(&mut self) {
        if self.unseen.take().is_some() {
            self.raced += 1;
            self.event("an outside capacity change races an engine capacity call".into());
        }
    }

    /// Applies the outside capacity changes that are due.
    fn apply_outside(&mut self, now: Instant) {
        while let Some(&change) = self.cfg.outside.get(self.outside_next) {
            if self.start + change.at() > now {
                break;
            }
            self.outside_next += 1;
            let before = self.desired;
            let dropped_overage;
            match change {
                Outside::SetDesired { desired, .. } => {
                    if desired < self.min || desired > self.max {
                        self.event(format!(
                            "an operator's SetDesiredCapacity {desired} refused (min {} max {})",
                            self.min, self.max
                        ));
                        continue;
                    }
                    self.desired = desired;
                    dropped_overage = std::mem::take(&mut self.overage);
                    self.event(format!("an operator sets desired capacity {desired}"));
                }
                Outside::Policy { change, .. } => {
                    if self.suspended.contains("AlarmNotification") {
                        self.event(format!(
                            "scaling policy ({change:+}) not invoked: AlarmNotification suspended"
                        ));
                        continue;
                    }
                    let to = (i64::from(self.desired) + i64::from(change))
                        .clamp(i64::from(self.min), i64::from(self.max));
                    self.desired = to as u32;
                    dropped_overage = std::mem::take(&mut self.overage);
                    self.event(format!("a scaling policy ({change:+}) sets desired {to}"));
                }
            }
            if self.desired != before {
                // A lower desired capacity also scales in what the group launched past the old
                // one (weights): that is taken by the same change.
                if self.desired < before {
                    self.outside_taken += dropped_overage;
                }
                self.outside_taken += before.saturating_sub(self.desired);
                self.outside_added += self.desired.saturating_sub(before);
                self.unseen = Some(self.desired);
            }
            self.reconcile(now);
        }
    }

    /// How many of the first instances are protected from scale in now.
    fn protected_now(&self, now: Instant) -> u64 {
        match self.cfg.protection_removed_at {
            Some(at) if now >= self.start + at => 0,
            _ => u64::from(self.cfg.protected),
        }
    }

    /// Capacity units of the instances that count toward desired capacity.
    fn live(&self) -> u32 {
        self.instances
            .iter()
            .filter(|i| !matches!(i.state, State::Terminating { .. } | State::Standby))
            .map(|i| i.weight)
            .sum()
    }

    fn reconcile(&mut self, now: Instant) {
        let live = self.live();
        if live < self.desired && !self.suspended.contains("Launch") {
            let image = self
                .images
                .get(&self.launch.encode())
                .cloned()
                .unwrap_or_default();
            if self.cfg.missing_images.contains(&image) {
                // The launch fails; the group tries again on its next reconciliation. Counted
                // against the release unless another tool pointed the group at that image.
                if !self.reverted {
                    self.missing_launches += 1;
                }
                self.event(format!("launch failed: {image} is deregistered"));
            } else {
                let mut units = live;
                while units < self.desired {
                    self.spawn(image.clone(), now);
                    units += self.instances.last().map_or(1, |i| i.weight);
                }
                self.overage = units - self.desired;
            }
        }
        if live > self.desired && !self.suspended.contains("Terminate") {
            // AWS's default termination policy: instances of an older launch setting first,
            // then the oldest. (Zone balance and billing hours do not change who serves.)
            let current = self.images.get(&self.launch.encode()).cloned();
            let protected = self.protected_now(now);
            let original = self.cfg.image.clone();
            let mut victims: Vec<(bool, u64, String, u32)> = self
                .instances
                .iter()
                .filter(|i| !matches!(i.state, State::Terminating { .. } | State::Standby))
                .filter(|i| !(i.seq <= protected && i.image == original))
                .map(|i| {
                    (
                        Some(&i.image) == current.as_ref(),
                        i.seq,
                        i.id.clone(),
                        i.weight,
                    )
                })
                .collect();
            victims.sort();
            // Never below desired capacity: with weights an instance heavier than the
            // surplus stays.
            let mut surplus = (live - self.desired).saturating_sub(self.overage);
            for (_, _, id, weight) in victims {
                if surplus == 0 {
                    break;
                }
                if weight <= surplus {
                    surplus -= weight;
                    self.start_termination(&id, now);
                }
            }
        }
    }

    /// A termination the group performs (scale-in, TerminateInstanceInAutoScalingGroup,
    /// replacing an unhealthy instance): deregistered from the target group, drained for the
    /// deregistration delay, then the termination hook, then the instance stops.
    fn start_termination(&mut self, id: &str, now: Instant) {
        self.event(format!("terminating {id}"));
        let hook = self.hook_time(self.cfg.termination_hook);
        let gone = between(&mut self.rng, self.cfg.termination);
        let elb = self.cfg.elb;
        let delay = self.cfg.deregistration_delay;
        let hooked = self.cfg.termination_hook.is_some();
        if let Some(i) = self.instances.iter_mut().find(|i| i.id == id) {
            let draining = if elb && i.elb_at.is_some() {
                i.deregistered_at = Some(now);
                delay
            } else {
                Duration::ZERO
            };
            i.hooked = hooked;
            i.state = State::Terminating {
                gone_at: now + draining + hook + gone,
            };
        }
    }

    /// DetachInstances (deregisters the instance, which starts draining) and EC2
    /// TerminateInstances right after: no wait for the draining, no termination hook.
    fn detach_and_terminate(&mut self, id: &str, now: Instant) {
        self.event(format!("detached and terminated through EC2 {id}"));
        let gone = between(&mut self.rng, self.cfg.termination);
        if let Some(i) = self.instances.iter_mut().find(|i| i.id == id) {
            i.deregistered_at = Some(now);
            i.state = State::Terminating {
                gone_at: now + gone.min(Duration::from_secs(2)),
            };
        }
    }

    /// The capacity units `ExitStandby` of these would add to desired capacity.
    fn standby_units(&self, ids: &[String]) -> u32 {
        self.instances
            .iter()
            .filter(|i| ids.contains(&i.id) && i.state == State::Standby)
            .map(|i| i.weight)
            .sum()
    }

    /// `ExitStandby`: back in service and in the load balancer, desired capacity up by each
    /// one's units (one without weights). Instances not in Standby are left as they are.
    fn exit_standby(&mut self, ids: &[String], now: Instant) -> u32 {
        let mut n = 0;
        for i in &mut self.instances {
            if ids.contains(&i.id) && i.state == State::Standby {
                i.state = State::InService;
                i.elb_at = Some(now);
                self.desired += i.weight;
                n += i.weight;
            }
        }
        n
    }

    fn hook_time(&mut self, hook: Option<Hook>) -> Duration {
        hook.map(|h| between(&mut self.rng, h.action).min(h.heartbeat))
            .unwrap_or_default()
    }

    /// An instance stopped at its `gone_at`: requests it was serving are dropped unless it had
    /// been out of its target group for longer than a request takes.
    fn stopped(&mut self, i: &Inst) {
        let State::Terminating { gone_at } = i.state else {
            return;
        };
        let receiving = self.cfg.elb && i.elb_at.is_some_and(|t| t <= gone_at);
        let drained = i
            .deregistered_at
            .is_some_and(|d| gone_at >= d + self.cfg.request);
        if receiving && !drained {
            self.dropped += 1;
            self.event(format!("{} stopped with requests in flight", i.id));
        }
        if i.image == self.cfg.image && !i.hooked {
            self.unhooked.insert(i.id.clone());
        }
    }
}

#[async_trait]
impl GroupApi for SimGroup {
    fn name(&self) -> &str {
        &self.name
    }

    async fn snapshot(&self) -> Result<GroupSnapshot, AwsError> {
        let name = self.name.clone();
        self.read("DescribeAutoScalingGroups", move |w| {
            if let Some(d) = w.unseen.take() {
                w.outside_seen = Some(d);
            }
            GroupSnapshot {
                name,
                desired_capacity: w.desired,
                min_size: w.min,
                max_size: w.max,
                instances: w
                    .instances
                    .iter()
                    .map(|i| InstanceSnapshot {
                        id: i.id.clone(),
                        availability_zone: i.az.clone(),
                        image_id: i.image.clone(),
                        lifecycle_state: match i.state {
                            State::Pending { .. } => LifecycleState::Pending,
                            State::InService => LifecycleState::InService,
                            State::Standby => LifecycleState::Standby,
                            State::Terminating { .. } => LifecycleState::Terminating,
                        },
                        health: i.health,
                        protected_from_scale_in: i.seq <= w.protected_now(Instant::now())
                            && i.image == w.cfg.image,
                        launch_time: None,
                        weighted_capacity: (!w.cfg.weights.is_empty()).then_some(i.weight),
                    })
                    .collect(),
                availability_zones: w.cfg.zones.clone(),
                launch: match &w.launch {
                    // A weighted group launches through a mixed instances policy whose
                    // overrides carry the weights.
                    LaunchSetting::Template { id, version } if !w.cfg.weights.is_empty() => {
                        LaunchSource::MixedInstancesPolicy {
                            launch_template_id: Some(id.clone()),
                            launch_template_name: None,
                            version: version.clone(),
                            instance_types: vec![],
                            overrides: w
                                .cfg
                                .weights
                                .iter()
                                .map(|weight| release_planner::Override {
                                    weighted_capacity: Some(*weight),
                                    ..Default::default()
                                })
                                .collect(),
                        }
                    }
                    LaunchSetting::Template { id, version } => LaunchSource::LaunchTemplate {
                        id: Some(id.clone()),
                        name: None,
                        version: version.clone(),
                    },
                    LaunchSetting::Configuration { name } => {
                        LaunchSource::LaunchConfiguration { name: name.clone() }
                    }
                    LaunchSetting::Mixed { id, version, .. } => {
                        LaunchSource::MixedInstancesPolicy {
                            launch_template_id: Some(id.clone()),
                            launch_template_name: None,
                            version: version.clone(),
                            instance_types: vec![],
                            overrides: vec![],
                        }
                    }
                },
                target_group_arns: if w.cfg.elb {
                    vec!["arn:aws:elasticloadbalancing:sim:targetgroup/sim".into()]
                } else {
                    vec![]
                },
                load_balancer_names: vec![],
                launch_image_id: w.images.get(&w.launch.encode()).cloned(),
                replacement: release_planner::Replacement {
                    maintenance_policy: w.cfg.maintenance_policy,
                    ..Default::default()
                },
                warm_pool: w.pool_view(Instant::now()),
            }
        })
        .await
    }

    async fn set_capacity(&self, desired: u32, min: u32, max: u32) -> Result<(), AwsError> {
        self.mutate("UpdateAutoScalingGroup", move |w| {
            if min > desired || desired > max {
                return Err(validation(
                    "UpdateAutoScalingGroup",
                    format!("desired capacity {desired} must be between min {min} and max {max}"),
                ));
            }
            w.race();
            if desired < w.desired {
                w.overage = 0;
            }
            w.desired = desired;
            w.min = min;
            w.max = max;
            w.reconcile(Instant::now());
            Ok(())
        })
        .await
    }

    async fn terminate(&self, instance_id: &str, decrement_desired: bool) -> Result<(), AwsError> {
        let id = instance_id.to_string();
        self.mutate("TerminateInstanceInAutoScalingGroup", move |w| {
            if let Some(at) = w.pool.iter().position(|p| p.id == id) {
                // A pool instance: gone from the pool, which refills (desired is not touched).
                let p = w.pool.remove(at);
                w.event(format!("terminating warm pool instance {} ({})", p.id, p.image));
                w.refill_pool(Instant::now());
                return Ok(());
            }
            let Some(inst) = w.instances.iter().find(|i| i.id == id) else {
                return Ok(()); // gone already: AwsGroup maps "not found" to success
            };
            if matches!(inst.state, State::Terminating { .. }) {
                return Ok(()); // leaving already (a retried call after a lost answer)
            }
            let weight = inst.weight;
            if decrement_desired && w.desired < w.min + weight {
                return Err(validation(
                    "TerminateInstanceInAutoScalingGroup",
                    format!(
                        "Currently, desiredSize equals minSize ({}). Terminating instance without replacement will violate group's min size constraint.",
                        w.min
                    ),
                ));
            }
            if decrement_desired {
                w.race();
                w.desired -= weight;
            }
            *w.terminations.entry(id.clone()).or_insert(0) += 1;
            let now = Instant::now();
            w.start_termination(&id, now);
            w.reconcile(now);
            Ok(())
        })
        .await
    }

    /// As `AwsGroup`: one TerminateInstanceInAutoScalingGroup per instance, which drains and
    /// runs the termination hooks. With [`SimConfig::detach_then_terminate`], the engine's
    /// earlier removal instead: DetachInstances + TerminateInstances, the batch in one call
    /// (instances already leaving are skipped); with `decrement` desired drops by the batch,
    /// refused below min like AWS.
    async fn remove(
        &self,
        instance_ids: &[String],
        decrement_desired: bool,
    ) -> Result<(), AwsError> {
        if !self.world().cfg.detach_then_terminate {
            return super::group::terminate_concurrently(self, instance_ids, decrement_desired)
                .await;
        }
        let ids = instance_ids.to_vec();
        self.mutate("DetachInstances", move |w| {
            let present: Vec<String> = ids
                .iter()
                .filter(|id| {
                    w.instances
                        .iter()
                        .any(|i| &&i.id == id && !matches!(i.state, State::Terminating { .. }))
                })
                .cloned()
                .collect();
            let n: u32 = w
                .instances
                .iter()
                .filter(|i| present.contains(&i.id))
                .map(|i| i.weight)
                .sum();
            if decrement_desired && w.desired < w.min + n {
                return Err(validation(
                    "DetachInstances",
                    format!(
                        "detaching {n} instance(s) would take desired {} below min {}",
                        w.desired, w.min
                    ),
                ));
            }
            if decrement_desired {
                w.desired -= n;
            }
            let now = Instant::now();
            for id in present {
                *w.terminations.entry(id.clone()).or_insert(0) += 1;
                w.detach_and_terminate(&id, now);
            }
            w.reconcile(now);
            Ok(())
        })
        .await
    }

    fn removes_by_terminating(&self) -> bool {
        !self.world().cfg.detach_then_terminate
    }

    async fn healthy(
        &self,
        snapshot: &GroupSnapshot,
        ids: &[String],
        source: HealthSource,
    ) -> Result<BTreeSet<String>, AwsError> {
        let group_view: BTreeSet<String> = snapshot
            .instances
            .iter()
            .filter(|i| ids.contains(&i.id) && i.is_healthy_in_service())
            .map(|i| i.id.clone())
            .collect();
        if source == HealthSource::Ec2 || snapshot.target_group_arns.is_empty() {
            return Ok(group_view);
        }
        self.read("DescribeTargetHealth", move |w| {
            let now = Instant::now();
            group_view
                .into_iter()
                .filter(|id| {
                    w.instances
                        .iter()
                        .any(|i| &i.id == id && i.elb_at.is_some_and(|t| t <= now))
                })
                .collect()
        })
        .await
    }

    async fn tags(&self) -> Result<BTreeMap<String, String>, AwsError> {
        self.read("DescribeAutoScalingGroups", |w| w.tags.clone())
            .await
    }

    async fn set_tag(&self, key: &str, value: &str) -> Result<(), AwsError> {
        let (k, v) = (key.to_string(), value.to_string());
        self.mutate("CreateOrUpdateTags", move |w| {
            w.tag_writes.push((k.clone(), v.clone()));
            w.tags.insert(k, v);
            Ok(())
        })
        .await
    }

    async fn delete_tag(&self, key: &str) -> Result<(), AwsError> {
        self.delete_tags(&[key]).await
    }

    async fn delete_tags(&self, keys: &[&str]) -> Result<(), AwsError> {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        self.mutate("DeleteTags", move |w| {
            for k in &keys {
                w.tags.remove(k);
            }
            Ok(())
        })
        .await
    }

    async fn suspended_processes(&self) -> Result<Vec<String>, AwsError> {
        self.read("DescribeAutoScalingGroups", |w| {
            w.suspended.iter().cloned().collect()
        })
        .await
    }

    async fn suspend(&self, processes: &[String]) -> Result<(), AwsError> {
        let p = processes.to_vec();
        self.mutate("SuspendProcesses", move |w| {
            w.suspended.extend(p);
            Ok(())
        })
        .await
    }

    async fn resume(&self, processes: &[String]) -> Result<(), AwsError> {
        let p = processes.to_vec();
        self.mutate("ResumeProcesses", move |w| {
            for x in &p {
                w.suspended.remove(x);
            }
            Ok(())
        })
        .await
    }

    async fn launch(&self) -> Result<Option<LaunchSetting>, AwsError> {
        self.read("DescribeAutoScalingGroups", |w| Some(w.launch.clone()))
            .await
    }

    async fn launch_image(
        &self,
        current: &LaunchSetting,
        image: &str,
        _release_id: &str,
    ) -> Result<LaunchSetting, AwsError> {
        let LaunchSetting::Template { id, .. } = current else {
            return Err(validation(
                "CreateLaunchConfiguration",
                "the simulation models launch templates only".into(),
            ));
        };
        let id = id.clone();
        let image = image.to_string();
        // Two calls on AWS: a new template version, then the group pinned to it.
        let new = self
            .mutate("CreateLaunchTemplateVersion", move |w| {
                let new = LaunchSetting::Template {
                    id,
                    version: w.next_version.to_string(),
                };
                w.next_version += 1;
                w.images.insert(new.encode(), image);
                Ok(new)
            })
            .await?;
        self.set_launch(&new).await?;
        Ok(new)
    }

    async fn image_launchable(&self, image: &str) -> Result<bool, AwsError> {
        let image = image.to_string();
        self.read("DescribeImages", move |w| {
            !w.cfg.missing_images.contains(&image)
        })
        .await
    }

    async fn active_instance_refresh(
        &self,
    ) -> Result<Option<super::group::ActiveRefresh>, AwsError> {
        self.read("DescribeInstanceRefreshes", |w| {
            w.cfg
                .refresh
                .clone()
                .map(|(id, status)| super::group::ActiveRefresh { id, status })
        })
        .await
    }

    async fn health_check_grace(&self) -> Result<Duration, AwsError> {
        self.read("DescribeAutoScalingGroups", |w| w.cfg.grace)
            .await
    }

    async fn exit_standby(&self, instance_ids: &[String]) -> Result<(), AwsError> {
        let ids = instance_ids.to_vec();
        self.mutate("ExitStandby", move |w| {
            // Beyond max size: refused here (AWS's documentation does not say; the engine
            // never asks for it).
            if w.desired + w.standby_units(&ids) > w.max {
                return Err(validation(
                    "ExitStandby",
                    format!("desired capacity would exceed max size {}", w.max),
                ));
            }
            w.race();
            let n = w.exit_standby(&ids, Instant::now());
            w.standby_returned += n;
            Ok(())
        })
        .await
    }

    async fn warm_pool(&self) -> Result<Option<release_planner::WarmPool>, AwsError> {
        self.read("DescribeWarmPool", |w| w.pool_view(Instant::now()))
            .await
    }

    async fn set_launch(&self, setting: &LaunchSetting) -> Result<(), AwsError> {
        let s = setting.clone();
        self.mutate("UpdateAutoScalingGroup", move |w| {
            if !w.images.contains_key(&s.encode()) {
                return Err(validation(
                    "UpdateAutoScalingGroup",
                    format!("launch setting {} does not exist", s.describe()),
                ));
            }
            w.launch = s;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
