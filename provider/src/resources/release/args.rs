//! `rolling_asg_release`'s arguments as typed values, parsed once: validate reports [`parse`]'s
//! diagnostics, plan parses Terraform's proposal (schema defaults already filled) and plans
//! unknown whatever depends on an [`Arg::Unknown`], apply parses the plan (all known) and builds
//! the engine's settings without a fallback.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use release_planner::{BatchSize, ProtectedInstances, ReleaseSettings, StandbyInstances, Strategy};

use crate::resources::limits;
use crate::rollout::{HealthSource, LaunchMode};
use crate::tf::args::{Arg, Field, Parser};
use crate::tf::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tf::duration;
use crate::tf::value::Value;

/// `timeouts.create` and `timeouts.update` when unset: a block has no schema default when the
/// block itself is absent, so this one constant is both the schema's documented default and the
/// value used.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);
pub const DEFAULT_TIMEOUT_TEXT: &str = "60m";

/// What the release needs to keep running; suspending them would stall or break it.
const REQUIRED_PROCESSES: [&str; 3] = ["Launch", "Terminate", "AddToLoadBalancer"];
pub(super) const KNOWN_PROCESSES: [&str; 9] = [
    "Launch",
    "Terminate",
    "AddToLoadBalancer",
    "AlarmNotification",
    "AZRebalance",
    "HealthCheck",
    "InstanceRefresh",
    "ReplaceUnhealthy",
    "ScheduledActions",
];

#[derive(Debug, Clone, Default)]
pub struct Args {
    pub autoscaling_group_name: Arg<String>,
    /// An `ami-` id.
    pub image_id: Arg<String>,
    pub launch_mode: Arg<LaunchMode>,
    pub batch_size: Arg<BatchSize>,
    pub strategy: Arg<Strategy>,
    /// 0–100; below 100 with `replace`.
    pub min_healthy_percentage: Arg<u32>,
    pub instance_warmup: Arg<Duration>,
    pub health_check: Arg<HealthSource>,
    pub pause_between_batches: Arg<Duration>,
    /// More than zero.
    pub batch_timeout: Arg<Duration>,
    /// Increasing percentages between 1 and 99.
    pub checkpoints: Arg<Vec<Arg<u32>>>,
    pub auto_rollback: Arg<bool>,
    /// Auto Scaling processes the release may suspend.
    pub suspend_processes: Arg<Vec<Arg<String>>>,
    pub scale_in_protected_instances: Arg<ProtectedInstances>,
    pub standby_instances: Arg<StandbyInstances>,
    /// 0 (never delete) to AWS's limit of versions per launch template.
    pub keep_launch_template_versions: Arg<u32>,
    pub timeouts: Arg<Timeouts>,
}

#[derive(Debug, Clone, Default)]
pub struct Timeouts {
    pub create: Arg<Duration>,
    pub update: Arg<Duration>,
}

/// The arguments the plan's `planned_batches` and `schedule` are computed from (besides the
/// group and the image, which the schedule names only by reference): while one is unknown, both
/// are planned unknown.
impl Args {
    pub fn schedule_inputs_unknown(&self) -> Vec<&'static str> {
        let unknown = [
            ("batch_size", self.batch_size.is_unknown()),
            ("strategy", self.strategy.is_unknown()),
            (
                "min_healthy_percentage",
                self.min_healthy_percentage.is_unknown(),
            ),
            ("instance_warmup", self.instance_warmup.is_unknown()),
            (
                "pause_between_batches",
                self.pause_between_batches.is_unknown(),
            ),
            (
                "checkpoints",
                self.checkpoints.clone().wholly().is_unknown(),
            ),
            ("launch_mode", self.launch_mode.is_unknown()),
            ("health_check", self.health_check.is_unknown()),
            (
                "scale_in_protected_instances",
                self.scale_in_protected_instances.is_unknown(),
            ),
            ("standby_instances", self.standby_instances.is_unknown()),
        ];
        unknown
            .into_iter()
            .filter_map(|(attr, u)| u.then_some(attr))
            .collect()
    }

    /// The planner's settings. Needs every schedule input known; the arguments with a schema
    /// default are never null here, because the framework filled the defaults.
    ///
    /// `group_warmup`: the group's `DefaultInstanceWarmup`, the default of `instance_warmup`.
    pub fn settings(
        &self,
        target: &str,
        group_warmup: Option<u64>,
    ) -> Result<ReleaseSettings, Diagnostics> {
        let mut s = ReleaseSettings::new(target);
        s.batch_size = self.batch_size.required(&AttrPath::root("batch_size"))?;
        s.strategy = self.strategy.required(&AttrPath::root("strategy"))?;
        s.min_healthy_percentage = match self.min_healthy_percentage {
            // Null: the planner's own default for `replace` (90, as documented).
            Arg::Null => None,
            other => Some(other.required(&AttrPath::root("min_healthy_percentage"))?),
        };
        let configured_warmup = match self.instance_warmup {
            Arg::Null => None,
            other => Some(
                other
                    .required(&AttrPath::root("instance_warmup"))?
                    .as_secs(),
            ),
        };
        s.instance_warmup_secs =
            release_planner::instance_warmup_secs(configured_warmup, group_warmup);
        s.health_check = match self.health_check {
            // Null: inferred from the group's load balancers, as the plan shows it.
            Arg::Null => None,
            other => Some(other.required(&AttrPath::root("health_check"))?),
        };
        s.pause_between_batches_secs = self
            .pause_between_batches
            .required(&AttrPath::root("pause_between_batches"))?
            .as_secs();
        s.checkpoints = match self.checkpoints.clone().wholly() {
            Arg::Null => vec![],
            other => other.required(&AttrPath::root("checkpoints"))?,
        };
        s.protected_instances = self
            .scale_in_protected_instances
            .required(&AttrPath::root("scale_in_protected_instances"))?;
        s.standby_instances = self
            .standby_instances
            .required(&AttrPath::root("standby_instances"))?;
        Ok(s)
    }

    /// The whole release's deadline, on create or on a later release.
    pub fn total_timeout(&self, creating: bool) -> Result<Duration, Diagnostic> {
        let (t, attr) = match self.timeouts.known() {
            Some(t) if creating => (t.create, "create"),
            Some(t) => (t.update, "update"),
            None => return Ok(DEFAULT_TIMEOUT),
        };
        match t {
            Arg::Null => Ok(DEFAULT_TIMEOUT),
            other => other.required(&AttrPath::root("timeouts").index(0).attr(attr)),
        }
    }
}

/// The one parser of a `rolling_asg_release` configuration (or plan: the same attributes).
pub fn parse(config: &Value) -> Result<Args, Diagnostics> {
    let mut p = Parser::new();
    let c = Field::root(config);

    let name = c.attr("autoscaling_group_name");
    let autoscaling_group_name = name.string(&mut p);
    if autoscaling_group_name.known().is_some_and(String::is_empty) {
        p.error(
            name.path(),
            "Empty group name",
            "Name the Auto Scaling group to release.",
        );
    }

    let image = c.attr("image_id");
    let image_id = image.string(&mut p);
    if let Some(id) = image_id.known() {
        let mut d = Diagnostics::new();
        limits::check_id(image.path().clone(), id, "ami-", "AMI", &mut d);
        p.extend(d);
    }

    let scale_in_protected_instances = c
        .attr("scale_in_protected_instances")
        .parse(&mut p, "Invalid scale_in_protected_instances");
    let standby_instances = c
        .attr("standby_instances")
        .parse(&mut p, "Invalid standby_instances");
    let keep = c.attr("keep_launch_template_versions");
    let keep_launch_template_versions = match keep.integer::<i64>(&mut p) {
        Arg::Known(k) if !(0..=limits::LAUNCH_TEMPLATE_VERSIONS).contains(&k) => {
            p.error(
                keep.path(),
                "Invalid keep_launch_template_versions",
                format!(
                    "{k} is not between 0 (never delete) and {} (AWS's limit of versions per launch template).",
                    limits::LAUNCH_TEMPLATE_VERSIONS
                ),
            );
            Arg::Null
        }
        other => other.map(|k| k as u32),
    };
    let launch_mode = c.attr("launch_mode").parse(&mut p, "Invalid launch_mode");
    let batch_size = c.attr("batch_size").parse(&mut p, "Invalid batch_size");
    let strategy = c.attr("strategy").parse(&mut p, "Invalid strategy");

    let healthy = c.attr("min_healthy_percentage");
    let min_healthy_percentage = match healthy.integer::<i64>(&mut p) {
        Arg::Known(pct) if !(0..=100).contains(&pct) => {
            p.error(
                healthy.path(),
                "Invalid min_healthy_percentage",
                format!("{pct} is not between 0 and 100."),
            );
            Arg::Null
        }
        Arg::Known(100) if strategy == Arg::Known(Strategy::Replace) => {
            p.error(healthy.path(), "Replace cannot keep 100% healthy", "Terminating first always dips below 100%: use strategy = \"surge\", or a lower percentage.");
            Arg::Null
        }
        other => other.map(|pct| pct as u32),
    };

    let instance_warmup =
        c.attr("instance_warmup")
            .parse_with(&mut p, "Invalid duration", duration::parse);
    let pause_between_batches =
        c.attr("pause_between_batches")
            .parse_with(&mut p, "Invalid duration", duration::parse);
    let timeout = c.attr("batch_timeout");
    let batch_timeout = match timeout.parse_with(&mut p, "Invalid duration", duration::parse) {
        Arg::Known(Duration::ZERO) => {
            p.error(
                timeout.path(),
                "Invalid duration",
                "batch_timeout must be more than 0s.",
            );
            Arg::Null
        }
        other => other,
    };
    let health_check = c.attr("health_check").parse(&mut p, "Invalid health_check");

    // Increasing among the elements known now; an unknown one is checked at apply's parse.
    let mut last = 0;
    let checkpoints = c
        .attr("checkpoints")
        .list(&mut p, |e, p| match e.integer::<i64>(p) {
            Arg::Known(pct) if !(1..=99).contains(&pct) || pct <= last => {
                p.error(
                    e.path(),
                    "Invalid checkpoint",
                    "Checkpoints are increasing percentages between 1 and 99, e.g. [10, 50].",
                );
                last = pct;
                Arg::Null
            }
            other => other.map(|pct| {
                last = pct;
                pct as u32
            }),
        });

    let suspend_processes = c.attr("suspend_processes").list(&mut p, |e, p| {
        let process = e.string(p);
        if let Some(name) = process.known() {
            if REQUIRED_PROCESSES.contains(&name.as_str()) {
                p.error(e.path(), "Process needed by the release", format!("{name} cannot be suspended: the release launches and terminates instances and registers them with load balancers."));
            } else if !KNOWN_PROCESSES.contains(&name.as_str()) {
                p.error(
                    e.path(),
                    "Unknown process",
                    format!(
                        "{name:?} is not an Auto Scaling process ({}).",
                        KNOWN_PROCESSES.join(", ")
                    ),
                );
            }
        }
        process
    });

    let timeouts = c.attr("timeouts").single_block(&mut p, |t, p| Timeouts {
        create: t
            .attr("create")
            .parse_with(p, "Invalid duration", duration::parse),
        update: t
            .attr("update")
            .parse_with(p, "Invalid duration", duration::parse),
    });

    let args = Args {
        autoscaling_group_name,
        image_id,
        launch_mode,
        batch_size,
        strategy,
        min_healthy_percentage,
        instance_warmup,
        health_check,
        pause_between_batches,
        batch_timeout,
        checkpoints,
        auto_rollback: c.attr("auto_rollback").bool(&mut p),
        suspend_processes,
        scale_in_protected_instances,
        standby_instances,
        keep_launch_template_versions,
        timeouts,
    };
    p.finish(args).map(|(args, _)| args)
}

/// `launch_mode` as written in the configuration and shown in the plan.
pub fn launch_mode_name(m: LaunchMode) -> &'static str {
    match m {
        LaunchMode::LaunchTemplate => "launch_template",
        LaunchMode::LaunchConfiguration => "launch_configuration",
        LaunchMode::External => "external",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchModeError(String);

impl fmt::Display for LaunchModeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not one of \"launch_template\", \"launch_configuration\", \"external\"",
            self.0
        )
    }
}

impl FromStr for LaunchMode {
    type Err = LaunchModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            LaunchMode::LaunchTemplate,
            LaunchMode::LaunchConfiguration,
            LaunchMode::External,
        ]
        .into_iter()
        .find(|m| launch_mode_name(*m) == s)
        .ok_or_else(|| LaunchModeError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::release::schema;
    use crate::tf::plan_helpers::{fill_defaults, object};

    fn cfg(pairs: &[(&str, Value)]) -> Value {
        let mut all: Vec<(&str, Value)> = vec![
            ("autoscaling_group_name", Value::from("web")),
            ("image_id", Value::from("ami-11111111")),
        ];
        all.extend(pairs.iter().cloned());
        object(
            &schema().block,
            all.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        )
    }

    fn planned(pairs: &[(&str, Value)]) -> Args {
        parse(&fill_defaults(&schema().block, cfg(pairs))).expect("parses")
    }

    #[test]
    fn modes_are_enums_both_ways() {
        for m in [
            LaunchMode::LaunchTemplate,
            LaunchMode::LaunchConfiguration,
            LaunchMode::External,
        ] {
            assert_eq!(launch_mode_name(m).parse::<LaunchMode>(), Ok(m));
        }
        for h in [HealthSource::Ec2, HealthSource::Elb] {
            assert_eq!(h.as_str().parse::<HealthSource>(), Ok(h));
        }
        assert!("template".parse::<LaunchMode>().is_err());
        assert!("ELB".parse::<HealthSource>().is_err());
    }

    /// The settings come from the schema's defaults, filled by the framework: no second copy.
    #[test]
    fn defaults_come_from_the_schema() {
        let a = planned(&[]);
        let s = a.settings("ami-1", None).unwrap();
        let d = ReleaseSettings::new("ami-1");
        assert_eq!(s.batch_size, BatchSize::Percent(25));
        assert_eq!(s.strategy, Strategy::Surge);
        assert_eq!(s.instance_warmup_secs, 60);
        assert_eq!(s.pause_between_batches_secs, 0);
        assert_eq!(s.protected_instances, ProtectedInstances::Wait);
        assert_eq!(s.min_healthy_percentage, d.min_healthy_percentage);
        assert_eq!(a.batch_timeout, Arg::Known(Duration::from_secs(900)));
        assert_eq!(a.auto_rollback, Arg::Known(true));
        assert_eq!(a.total_timeout(true), Ok(DEFAULT_TIMEOUT));
        assert_eq!(
            DEFAULT_TIMEOUT,
            duration::parse(DEFAULT_TIMEOUT_TEXT).unwrap()
        );
    }

    /// Unset defaulted arguments are a bug at apply, never a silent fallback.
    #[test]
    fn settings_refuse_what_the_framework_should_have_filled() {
        let a = parse(&cfg(&[])).unwrap();
        let e = a.settings("ami-1", None).unwrap_err();
        assert_eq!(e.0[0].path, Some(AttrPath::root("batch_size")));
    }

    #[test]
    fn unknowns_are_named_as_schedule_inputs() {
        let a = planned(&[
            ("batch_size", Value::unknown()),
            (
                "checkpoints",
                Value::list([Value::from(10), Value::unknown()]),
            ),
            ("health_check", Value::unknown()),
        ]);
        assert_eq!(
            a.schedule_inputs_unknown(),
            ["batch_size", "checkpoints", "health_check"]
        );
        assert!(a.settings("ami-1", None).is_err());
        assert!(planned(&[]).schedule_inputs_unknown().is_empty());
    }

    #[test]
    fn timeouts_are_typed_with_their_own_default() {
        let block = |create: Value| {
            Value::list([Value::object([("create", create), ("update", Value::Null)])])
        };
        let a = planned(&[("timeouts", block(Value::from("2h")))]);
        assert_eq!(a.total_timeout(true), Ok(Duration::from_secs(7200)));
        assert_eq!(a.total_timeout(false), Ok(DEFAULT_TIMEOUT));
        let d = parse(&cfg(&[(
            "timeouts",
            block(Value::from("99999999999999999999999h")),
        )]))
        .unwrap_err();
        assert_eq!(
            d.0[0].path.as_ref().map(ToString::to_string).as_deref(),
            Some("timeouts[0].create")
        );
        // A dynamic timeouts block over a value not known yet parses; it is known at apply.
        assert!(planned(&[("timeouts", Value::unknown())])
            .timeouts
            .is_unknown());
    }

    #[test]
    fn every_error_at_once() {
        let d = parse(&cfg(&[
            ("batch_size", Value::from("0")),
            ("launch_mode", Value::from("template")),
            (
                "checkpoints",
                Value::list([Value::from(50), Value::unknown(), Value::from(10)]),
            ),
            ("suspend_processes", Value::list([Value::from("Launch")])),
        ]))
        .unwrap_err();
        let paths: Vec<String> =
            d.0.iter()
                .map(|d| d.path.as_ref().unwrap().to_string())
                .collect();
        assert_eq!(
            paths,
            [
                "launch_mode",
                "batch_size",
                "checkpoints[2]",
                "suspend_processes[0]"
            ]
        );
        assert!(d.0[0].detail.contains("\"template\""), "{}", d.0[0]);
    }
}
