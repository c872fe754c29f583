//! The AWS behaviours moto lacks, as the tests see them: [`crate::Moto::behaving`] starts a moto
//! with `support/aws_behaviours.py` patched into its models (draining for the deregistration
//! delay, `Pending:Wait` / `Terminating:Wait` lifecycle hooks with heartbeat timeouts and default
//! results, launches refused for a deregistered AMI, `resolve:ssm:` images resolved at launch;
//! each cited from AWS's documentation there). The provider's real calls meet them; this module
//! reads the steps the layer logged ([`events`]) and plays a hook's consumer ([`HookConsumer`]).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::Moto;

/// One step the behaviour layer took.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The instance left a target group; it drains for `delay_seconds`.
    Deregistered {
        target_group: String,
        delay_seconds: u64,
    },
    /// The group started terminating the instance (`TerminateInstanceInAutoScalingGroup` or a
    /// scale-in).
    Terminating {
        cause: String,
    },
    /// Draining over: the termination hooks start.
    Drained,
    HookWait {
        hook: String,
        transition: String,
    },
    /// `by`: `CompleteLifecycleAction` or `heartbeat timeout` (the hook's default result).
    HookCompleted {
        hook: String,
        result: String,
        by: String,
    },
    /// DetachInstances: deregistered, no hook.
    Detached,
    /// The EC2 instance stopped (terminated), by anyone; the target groups that still had it
    /// registered or draining at that moment (requests cut off).
    Stopped {
        registered: Vec<String>,
        draining: Vec<String>,
    },
    /// A group launch refused by EC2 (`code`: e.g. `InvalidAMIID.Unavailable`).
    LaunchFailed {
        code: String,
        message: String,
    },
    /// A bug in the layer itself (always a test failure).
    LayerError(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unix time, seconds.
    pub at: f64,
    pub region: String,
    pub instance: Option<String>,
    pub step: Step,
}

impl Event {
    /// A stop while a load balancer still sent the instance requests, or had some in flight.
    pub fn cut_off(&self) -> bool {
        matches!(&self.step, Step::Stopped { registered, draining }
            if !registered.is_empty() || !draining.is_empty())
    }
}

/// The layer's steps in `region`, in order (a line being written is skipped).
pub fn events(moto: &Moto, region: &str) -> Vec<Event> {
    let path = moto
        .behaviour_log()
        .expect("behaviour events exist only on Moto::behaving()");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| parse(&v))
        .filter(|e| e.region == region || matches!(e.step, Step::LayerError(_)))
        .collect()
}

fn parse(v: &Value) -> Option<Event> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let list = |k: &str| -> Vec<String> {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let step = match v.get("event")?.as_str()? {
        "deregistered" => Step::Deregistered {
            target_group: s("target_group"),
            delay_seconds: v.get("delay").and_then(Value::as_u64).unwrap_or_default(),
        },
        "terminating" => Step::Terminating { cause: s("cause") },
        "drained" => Step::Drained,
        "hook_wait" => Step::HookWait {
            hook: s("hook"),
            transition: s("transition"),
        },
        "hook_completed" => Step::HookCompleted {
            hook: s("hook"),
            result: s("result"),
            by: s("by"),
        },
        "detached" => Step::Detached,
        "stopped" => Step::Stopped {
            registered: list("registered"),
            draining: list("draining"),
        },
        "launch_failed" => Step::LaunchFailed {
            code: s("code"),
            message: s("message"),
        },
        "layer_error" => Step::LayerError(s("error")),
        _ => return None,
    };
    Some(Event {
        at: v.get("t").and_then(Value::as_f64).unwrap_or_default(),
        region: s("region"),
        instance: v.get("instance").and_then(Value::as_str).map(String::from),
        step,
    })
}

/// Instances whose `transition` hook completed (by the consumer or its timeout).
pub fn through_hook(events: &[Event], transition: &str) -> BTreeSet<String> {
    let waited: BTreeSet<&str> = events
        .iter()
        .filter(|e| matches!(&e.step, Step::HookWait { transition: t, .. } if t == transition))
        .filter_map(|e| e.instance.as_deref())
        .collect();
    events
        .iter()
        .filter(|e| matches!(e.step, Step::HookCompleted { .. }))
        .filter_map(|e| e.instance.clone())
        .filter(|i| waited.contains(i.as_str()))
        .collect()
}

/// The time of the first event of `instance` matching `f`.
pub fn first_at(events: &[Event], instance: &str, f: impl Fn(&Step) -> bool) -> Option<f64> {
    events
        .iter()
        .find(|e| e.instance.as_deref() == Some(instance) && f(&e.step))
        .map(|e| e.at)
}

/// Sets a target group's `deregistration_delay.timeout_seconds` (AWS's default is 300 s).
pub fn set_deregistration_delay(moto: &Moto, region: &str, target_group: &str, seconds: u32) {
    let elb = crate::elbv2_client(&moto.endpoint(), region);
    let arn = target_group.to_string();
    moto.block_on(async move {
        elb.modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value(seconds.to_string())
                    .build(),
            )
            .send()
            .await
    })
    .expect("modify target group attributes");
}

/// An instance the consumer completed a lifecycle action for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Completed {
    pub instance: String,
    /// `Terminating:Wait` or `Pending:Wait`: where it waited.
    pub state: String,
}

/// Plays a lifecycle hook's consumer (the ECS agent, a drain script): polls the group and
/// completes `hook` with CONTINUE for every instance waiting in `Pending:Wait` or
/// `Terminating:Wait`, after `work` (what the consumer spends on each, e.g. a log upload).
/// Stops when dropped or [`HookConsumer::finish`]ed.
pub struct HookConsumer {
    stop: Arc<AtomicBool>,
    done: Arc<Mutex<Vec<Completed>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HookConsumer {
    pub fn start(moto: &Moto, region: &str, group: &str, hook: &str, work: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(Mutex::new(Vec::new()));
        let asg = moto.autoscaling(region);
        let (group, hook) = (group.to_string(), hook.to_string());
        let (flag, record) = (stop.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let mut seen = BTreeSet::new();
            while !flag.load(Ordering::SeqCst) {
                rt.block_on(async {
                    let Ok(out) = asg
                        .describe_auto_scaling_groups()
                        .auto_scaling_group_names(&group)
                        .send()
                        .await
                    else {
                        return;
                    };
                    let waiting: Vec<(String, String)> = out
                        .auto_scaling_groups()
                        .iter()
                        .flat_map(|g| g.instances())
                        .filter_map(|i| {
                            let state = i.lifecycle_state()?.as_str().to_string();
                            let id = i.instance_id()?.to_string();
                            state.ends_with(":Wait").then_some((id, state))
                        })
                        .filter(|w| !seen.contains(w))
                        .collect();
                    for (instance, state) in waiting {
                        tokio::time::sleep(work).await;
                        let ok = asg
                            .complete_lifecycle_action()
                            .auto_scaling_group_name(&group)
                            .lifecycle_hook_name(&hook)
                            .instance_id(&instance)
                            .lifecycle_action_result("CONTINUE")
                            .send()
                            .await
                            .is_ok();
                        if ok {
                            seen.insert((instance.clone(), state.clone()));
                            record
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(Completed { instance, state });
                        }
                    }
                });
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        HookConsumer {
            stop,
            done,
            thread: Some(thread),
        }
    }

    /// Stops the consumer; the actions it completed, in order.
    pub fn finish(mut self) -> Vec<Completed> {
        self.halt();
        self.done.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for HookConsumer {
    fn drop(&mut self) {
        self.halt();
    }
}
