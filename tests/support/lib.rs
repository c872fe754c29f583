//! Support library of the end-to-end tests: the real `terraform` CLI drives the freshly built
//! plugin against a real moto_server (the local AWS emulator).
//!
//! - [`Moto`]: one moto_server per test binary ([`Moto::shared`]), a unique AWS region per
//!   test ([`Moto::unique_region`]) for isolation, SDK clients and assertion helpers, and the
//!   request recorder ([`Moto::recorded_calls`], [`Moto::count`]).
//! - [`Terraform`]: a configuration in a fresh temporary directory, run with `dev_overrides`
//!   pointing at [`plugin_dir`] (never `terraform init`), with a timeout per command.
//! - [`FaultProxy`]: a loopback HTTP proxy in front of moto that answers or rewrites chosen
//!   AWS actions.
//!
//! A typical test:
//! ```no_run
//! use e2e_tests::{Moto, Terraform};
//! let moto = Moto::shared();
//! let region = moto.unique_region();
//! let tf = Terraform::new(moto, region, r#"
//!   variable "aws_endpoint" { type = string }
//!   provider "immutable" { endpoint = var.aws_endpoint }
//! "#);
//! tf.apply(&[]).assert_success();
//! assert_eq!(moto.count(region, "CreateImage"), 0);
//! ```

pub mod aws_request;
pub mod behaviours;
pub mod fault_proxy;
pub mod groups;
pub mod http;
pub mod lifecycle;
pub mod moto;
pub mod publish;
pub mod terraform;
pub mod tls_front;
pub mod watch;

pub use aws_request::AwsCall;
pub use fault_proxy::{Effect, FaultProxy, ProxiedCall, Rule};
pub use groups::{
    create_group, elbv2_client, group_state, launch_template, shape_group, target_group,
    template_group, GroupState,
};
pub use lifecycle::{departures, Departure};
pub use moto::{
    autoscaling_client, ec2_client, ssm_client, Moto, RecordedCall, MOTO_ACCOUNT_ID, REGIONS,
    TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY,
};
pub use terraform::{
    find_plugin_dir, plugin_dir, release_config, Terraform, TfRun, PLUGIN_BINARY, PROVIDER_SOURCE,
    TF_HEADER,
};
pub use tls_front::{ConnectProxy, TlsFront};
pub use watch::{GroupWatch, Watched, Watching};

// The SDK crates, so that test files need no dependencies of their own for assertions.
pub use aws_sdk_autoscaling;
pub use aws_sdk_ec2;
pub use aws_sdk_elasticloadbalancingv2;
pub use aws_sdk_ssm;
pub use serde_json;
