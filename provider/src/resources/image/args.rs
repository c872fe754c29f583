//! `immutable_image`'s arguments as typed values, read once by [`parse`]: validate adds the
//! rules about what the configuration writes (which arguments go together) on top of it; plan
//! parses Terraform's proposal and apply the plan (schema defaults filled), and both act on the
//! same typed values. Durations are `Duration`s, ports `u16`, the communicator an enum.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::tf::args::{Arg, Field, Parser};
use crate::tf::diag::Diagnostics;
use crate::tf::duration;
use crate::tf::value::Value;

pub type Strings = Arg<Vec<Arg<String>>>;
pub type StringMap = Arg<BTreeMap<String, Arg<String>>>;

pub struct Config {
    pub source_ami: Arg<String>,
    pub source_ami_filter: Arg<FilterBlock>,
    pub code_tag: Arg<String>,
    pub script: Arg<String>,
    pub script_file: Arg<String>,
    pub environment: StringMap,
    pub communicator: Arg<CommunicatorKind>,
    pub instance_type: Arg<String>,
    pub subnet_id: Arg<String>,
    pub security_group_ids: Strings,
    pub iam_instance_profile: Arg<String>,
    pub run_tags: StringMap,
    pub name_template: Arg<String>,
    pub description: Arg<String>,
    pub tags: StringMap,
    pub retain_on_destroy: Arg<bool>,
    pub timeouts: Arg<TimeoutsBlock>,
    pub ssh_username: Arg<String>,
    pub ssh_port: Arg<u16>,
    pub ssh_host: Arg<String>,
    pub ssh_keypair_name: Arg<String>,
    pub ssh_private_key: Arg<String>,
    pub ssh_private_key_file: Arg<String>,
    pub ssh_allowed_cidrs: Strings,
    pub ssh_timeout: Arg<Duration>,
    pub ssh_bastion: Arg<BastionBlock>,
    pub copy_to_regions: Strings,
    pub launch_permission: Arg<LaunchPermissionBlock>,
    pub encrypted: Arg<bool>,
    pub kms_key_id: Arg<String>,
    pub keep_previous: Arg<u32>,
}

impl Config {
    /// An input of the fingerprint is not known yet: the fingerprint (and the source AMI it
    /// resolves) is then planned unknown, since a value planned now would be contradicted at apply.
    pub fn fingerprint_inputs_unknown(&self) -> bool {
        let filter = match &self.source_ami_filter {
            Arg::Unknown => true,
            Arg::Known(f) => {
                f.owners.clone().wholly().is_unknown()
                    || f.name.is_unknown()
                    || f.most_recent.is_unknown()
            }
            Arg::Null => false,
        };
        filter
            || self.source_ami.is_unknown()
            || self.code_tag.is_unknown()
            || self.script.is_unknown()
            || self.script_file.is_unknown()
            || self.environment.clone().wholly().is_unknown()
            || self.instance_type.is_unknown()
            || self.iam_instance_profile.is_unknown()
            || self.encrypted.is_unknown()
            || self.kms_key_id.is_unknown()
    }
}

pub struct FilterBlock {
    pub owners: Strings,
    pub name: Arg<String>,
    pub most_recent: Arg<bool>,
}

pub struct BastionBlock {
    pub host: Arg<String>,
    pub port: Arg<u16>,
    pub username: Arg<String>,
    pub private_key: Arg<String>,
    pub private_key_file: Arg<String>,
    pub host_key: Arg<String>,
}

#[derive(Default)]
pub struct LaunchPermissionBlock {
    pub accounts: Strings,
    pub organization_arns: Strings,
    pub organizational_unit_arns: Strings,
    pub public: Arg<bool>,
}

#[derive(Default)]
pub struct TimeoutsBlock {
    pub create: Arg<Duration>,
    pub delete: Arg<Duration>,
}

/// How the script reaches the builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommunicatorKind {
    Ssm,
    Ssh,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunicatorError(String);

impl fmt::Display for CommunicatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not supported; use \"ssm\" or \"ssh\"", self.0)
    }
}

impl FromStr for CommunicatorKind {
    type Err = CommunicatorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ssm" => Ok(CommunicatorKind::Ssm),
            "ssh" => Ok(CommunicatorKind::Ssh),
            _ => Err(CommunicatorError(s.to_owned())),
        }
    }
}

/// A TCP port: a whole number from 1 to 65535.
fn port(f: &Field<'_>, p: &mut Parser) -> Arg<u16> {
    match f.integer::<i64>(p) {
        Arg::Known(n) => match u16::try_from(n) {
            Ok(port) if port > 0 => Arg::Known(port),
            _ => {
                p.error(
                    f.path(),
                    "Invalid port",
                    format!("{n} is not a TCP port (a whole number from 1 to 65535)."),
                );
                Arg::Null
            }
        },
        Arg::Null => Arg::Null,
        Arg::Unknown => Arg::Unknown,
    }
}

fn strings(f: &Field<'_>, p: &mut Parser) -> Strings {
    f.list(p, |e, p| e.string(p))
}

fn string_map(f: &Field<'_>, p: &mut Parser) -> StringMap {
    f.map(p, |_, v, p| v.string(p))
}

fn duration(f: &Field<'_>, p: &mut Parser) -> Arg<Duration> {
    f.parse_with(p, "Invalid duration", duration::parse)
}

/// The one reading of an `immutable_image` configuration (or plan, or state: the same
/// attributes). Refuses what no value of the argument's kind allows, each at its path.
pub fn parse(v: &Value) -> Result<Config, Diagnostics> {
    let mut p = Parser::new();
    let config = read(v, &mut p);
    p.finish(config).map(|(c, _)| c)
}

/// [`parse`]'s reading, for validate, which goes on to its own rules whatever this refused (an
/// argument refused here reads as null), so that one run reports every problem.
pub fn read(v: &Value, p: &mut Parser) -> Config {
    let c = Field::root(v);
    let keep = c.attr("keep_previous");
    let keep_previous = match keep.integer::<i64>(p) {
        Arg::Known(n) if (0..=1000).contains(&n) => Arg::Known(n as u32),
        Arg::Known(n) => {
            p.error(
                keep.path(),
                "Invalid keep_previous",
                format!("{n} is not a count of images to keep (a whole number from 0 to 1000)."),
            );
            Arg::Null
        }
        Arg::Null => Arg::Null,
        Arg::Unknown => Arg::Unknown,
    };
    Config {
        source_ami: c.attr("source_ami").string(p),
        source_ami_filter: c
            .attr("source_ami_filter")
            .single_block(p, |f, p| FilterBlock {
                owners: strings(&f.attr("owners"), p),
                name: f.attr("name").string(p),
                most_recent: f.attr("most_recent").bool(p),
            }),
        code_tag: c.attr("code_tag").string(p),
        script: c.attr("script").string(p),
        script_file: c.attr("script_file").string(p),
        environment: string_map(&c.attr("environment"), p),
        communicator: c.attr("communicator").parse(p, "Unsupported communicator"),
        instance_type: c.attr("instance_type").string(p),
        subnet_id: c.attr("subnet_id").string(p),
        security_group_ids: strings(&c.attr("security_group_ids"), p),
        iam_instance_profile: c.attr("iam_instance_profile").string(p),
        run_tags: string_map(&c.attr("run_tags"), p),
        name_template: c.attr("name_template").string(p),
        description: c.attr("description").string(p),
        tags: string_map(&c.attr("tags"), p),
        retain_on_destroy: c.attr("retain_on_destroy").bool(p),
        timeouts: c.attr("timeouts").single_block(p, |t, p| TimeoutsBlock {
            create: duration(&t.attr("create"), p),
            delete: duration(&t.attr("delete"), p),
        }),
        ssh_username: c.attr("ssh_username").string(p),
        ssh_port: port(&c.attr("ssh_port"), p),
        ssh_host: c.attr("ssh_host").string(p),
        ssh_keypair_name: c.attr("ssh_keypair_name").string(p),
        ssh_private_key: c.attr("ssh_private_key").string(p),
        ssh_private_key_file: c.attr("ssh_private_key_file").string(p),
        ssh_allowed_cidrs: strings(&c.attr("ssh_allowed_cidrs"), p),
        ssh_timeout: duration(&c.attr("ssh_timeout"), p),
        ssh_bastion: c.attr("ssh_bastion").single_block(p, |b, p| BastionBlock {
            host: b.attr("host").string(p),
            port: port(&b.attr("port"), p),
            username: b.attr("username").string(p),
            private_key: b.attr("private_key").string(p),
            private_key_file: b.attr("private_key_file").string(p),
            host_key: b.attr("host_key").string(p),
        }),
        copy_to_regions: strings(&c.attr("copy_to_regions"), p),
        launch_permission: c.attr("launch_permission").single_block(p, |l, p| {
            LaunchPermissionBlock {
                accounts: strings(&l.attr("accounts"), p),
                organization_arns: strings(&l.attr("organization_arns"), p),
                organizational_unit_arns: strings(&l.attr("organizational_unit_arns"), p),
                public: l.attr("public").bool(p),
            }
        }),
        encrypted: c.attr("encrypted").bool(p),
        kms_key_id: c.attr("kms_key_id").string(p),
        keep_previous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::image::schema;
    use crate::tf::plan_helpers::object;

    fn cfg(pairs: &[(&str, Value)]) -> Value {
        object(
            &schema().block,
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn block(pairs: &[(&str, Value)]) -> Value {
        Value::list([Value::object(pairs.iter().cloned())])
    }

    #[test]
    fn unknowns_stay_unknown_in_blocks_lists_and_maps() {
        let c = parse(&cfg(&[
            (
                "source_ami_filter",
                block(&[
                    (
                        "owners",
                        Value::list([Value::from("self"), Value::unknown()]),
                    ),
                    ("name", Value::from("base-*")),
                ]),
            ),
            (
                "tags",
                Value::map([("app", Value::from("web")), ("team", Value::unknown())]),
            ),
            (
                "ssh_bastion",
                block(&[("host", Value::from("b")), ("port", Value::unknown())]),
            ),
            ("launch_permission", Value::unknown()),
            ("ssh_timeout", Value::unknown()),
        ]))
        .unwrap();
        let f = c.source_ami_filter.known().unwrap();
        assert_eq!(f.owners.known_vec(), ["self"]);
        assert!(f.owners.clone().wholly().is_unknown());
        assert_eq!(c.tags.known_map().len(), 1);
        assert!(c.tags.clone().wholly().is_unknown());
        assert!(c.ssh_bastion.known().unwrap().port.is_unknown());
        assert!(c.launch_permission.is_unknown(), "a dynamic block");
        assert!(c.ssh_timeout.is_unknown());
        assert!(c.source_ami.is_null());
        assert!(c.fingerprint_inputs_unknown(), "a filter owner is unknown");
        let known = parse(&cfg(&[("tags", Value::map([("a", Value::unknown())]))])).unwrap();
        assert!(!known.fingerprint_inputs_unknown(), "tags are no input");
        let env = parse(&cfg(&[(
            "environment",
            Value::map([("A", Value::unknown())]),
        )]))
        .unwrap();
        assert!(env.fingerprint_inputs_unknown());
    }

    #[test]
    fn values_are_typed() {
        let c = parse(&cfg(&[
            ("communicator", Value::from("ssh")),
            ("ssh_port", Value::from(2222)),
            ("ssh_timeout", Value::from("90s")),
            ("keep_previous", Value::from(3)),
            (
                "timeouts",
                block(&[("create", Value::from("1h")), ("delete", Value::Null)]),
            ),
        ]))
        .unwrap();
        assert_eq!(c.communicator, Arg::Known(CommunicatorKind::Ssh));
        assert_eq!(c.ssh_port, Arg::Known(2222));
        assert_eq!(c.ssh_timeout, Arg::Known(Duration::from_secs(90)));
        assert_eq!(c.keep_previous, Arg::Known(3));
        let t = c.timeouts.known().unwrap();
        assert_eq!(t.create, Arg::Known(Duration::from_secs(3600)));
        assert!(t.delete.is_null());
    }

    #[test]
    fn every_error_is_reported_at_its_path() {
        let d = parse(&cfg(&[
            ("communicator", Value::from("winrm")),
            ("ssh_port", Value::from(0)),
            (
                "ssh_bastion",
                block(&[("host", Value::from("b")), ("port", Value::from(70000))]),
            ),
            ("keep_previous", Value::from(1001)),
            (
                "timeouts",
                block(&[("delete", Value::from("99999999999999999999999h"))]),
            ),
            ("tags", Value::map([("app", Value::Null)])),
        ]))
        .err()
        .expect("refused");
        let paths: Vec<String> =
            d.0.iter()
                .map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default())
                .collect();
        assert_eq!(
            paths,
            [
                "keep_previous",
                "communicator",
                "tags[\"app\"]",
                "timeouts[0].delete",
                "ssh_port",
                "ssh_bastion[0].port",
            ]
        );
        assert!(d.0[1].detail.contains("\"winrm\""), "{}", d.0[1]);
    }
}
