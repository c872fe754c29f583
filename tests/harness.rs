//! Tests of the end-to-end support library itself: moto starts and answers, the recorder
//! attributes calls correctly, the fault proxy answers and forwards, terraform runs with the
//! CLI configuration.

use std::time::Duration;

use e2e_tests::aws_sdk_ec2::config::retry::RetryConfig;
use e2e_tests::aws_sdk_ec2::error::ProvideErrorMetadata;
use e2e_tests::serde_json::{json, Value};
use e2e_tests::{
    ec2_client, find_plugin_dir, ssm_client, FaultProxy, Moto, RecordedCall, Rule, Terraform,
};

const UBUNTU_AMI: &str = "ami-1e749f67";

#[test]
fn moto_answers_in_a_unique_region() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let other = moto.unique_region();
    assert_ne!(region, other);
    assert!(moto.endpoint().starts_with("http://127.0.0.1:"));

    let ec2 = moto.ec2(region);
    let images = moto.block_on(async move {
        ec2.describe_images()
            .image_ids(UBUNTU_AMI)
            .send()
            .await
            .expect("DescribeImages")
    });
    assert_eq!(images.images().len(), 1, "{images:?}");

    // A fresh region owns nothing.
    assert!(moto.images(region).is_empty());
    assert!(moto.snapshots(region).is_empty());
    assert!(moto.running_instances(region).is_empty());
    assert!(moto.key_pairs(region).is_empty());
    assert!(moto.security_groups(region).is_empty());

    // What a test creates shows in its region and not in another one.
    let ec2 = moto.ec2(region);
    moto.block_on(async move {
        ec2.create_key_pair()
            .key_name("harness")
            .send()
            .await
            .expect("CreateKeyPair");
        ec2.create_security_group()
            .group_name("harness")
            .description("harness")
            .send()
            .await
            .expect("CreateSecurityGroup");
        ec2.run_instances()
            .image_id(UBUNTU_AMI)
            .min_count(2)
            .max_count(2)
            .send()
            .await
            .expect("RunInstances");
    });
    assert_eq!(moto.key_pairs(region).len(), 1);
    assert_eq!(moto.security_groups(region).len(), 1);
    assert_eq!(moto.running_instances(region).len(), 2);
    assert!(moto.key_pairs(other).is_empty());
    assert!(moto.running_instances(other).is_empty());
}

#[test]
fn recorder_attributes_each_call_to_its_service_action_and_region() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    assert_eq!(moto.count(region, "DescribeImages"), 0);

    let ec2 = moto.ec2(region);
    let ssm = moto.ssm(region);
    let asg = moto.autoscaling(region);
    moto.block_on(async move {
        ec2.describe_images()
            .owners("self")
            .send()
            .await
            .expect("DescribeImages");
        ssm.describe_parameters()
            .send()
            .await
            .expect("DescribeParameters");
        asg.describe_auto_scaling_groups()
            .send()
            .await
            .expect("DescribeAutoScalingGroups");
    });
    assert_eq!(moto.count(region, "DescribeImages"), 1);
    assert_eq!(
        moto.recorded_calls(region),
        vec![
            call("ec2", "DescribeImages", region),
            call("ssm", "DescribeParameters", region),
            call("autoscaling", "DescribeAutoScalingGroups", region),
        ]
    );

    // Exactly one more.
    let ec2 = moto.ec2(region);
    moto.block_on(async move { ec2.describe_images().owners("self").send().await })
        .expect("DescribeImages");
    assert_eq!(moto.count(region, "DescribeImages"), 2);
    assert_eq!(moto.recorded_calls(region).len(), 4);
}

#[test]
fn fault_proxy_answers_chosen_actions_and_forwards_the_rest() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        vec![
            Rule::aws_error(
                "DescribeKeyPairs",
                400,
                "InvalidParameterValue",
                "injected <fault>",
            ),
            Rule::respond("DescribeRegions", 503, "text/html", "<html>down</html>").times(1),
            Rule::rewrite_json("GetCommandInvocation", |mut v: Value| {
                v["Status"] = json!("Failed");
                v["StatusDetails"] = json!("Failed");
                v["ResponseCode"] = json!(3);
                v["StandardErrorContent"] = json!("boom");
                v
            }),
        ],
    );
    assert_ne!(proxy.endpoint(), moto.endpoint());

    let via_proxy = ec2_client(&proxy.endpoint(), region);
    let no_retry =
        |b: e2e_tests::aws_sdk_ec2::config::Builder| b.retry_config(RetryConfig::disabled());
    let (keys, images, regions_1, regions_2) = moto.block_on(async move {
        let keys = via_proxy
            .describe_key_pairs()
            .customize()
            .config_override(no_retry(Default::default()))
            .send()
            .await;
        let images = via_proxy
            .describe_images()
            .image_ids(UBUNTU_AMI)
            .send()
            .await;
        let regions_1 = via_proxy
            .describe_regions()
            .customize()
            .config_override(no_retry(Default::default()))
            .send()
            .await;
        let regions_2 = via_proxy.describe_regions().send().await;
        (keys, images, regions_1, regions_2)
    });

    // Canned AWS error, parsed by the SDK as an EC2 error.
    let err = keys.expect_err("DescribeKeyPairs must fail through the proxy");
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err:?}");
    assert_eq!(err.message(), Some("injected <fault>"));
    // Forwarded unchanged.
    assert_eq!(images.expect("DescribeImages via proxy").images().len(), 1);
    // A rule limited to one use: first call gets the canned 503, the next is forwarded.
    let err = regions_1.expect_err("DescribeRegions must fail once");
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "{err:?}"
    );
    assert!(!regions_2
        .expect("second DescribeRegions")
        .regions()
        .is_empty());
    assert_eq!(proxy.applied(0), 1);
    assert_eq!(proxy.applied(1), 1);

    // Canned answers never reach moto; forwarded calls do.
    assert_eq!(moto.count(region, "DescribeKeyPairs"), 0);
    assert_eq!(moto.count(region, "DescribeImages"), 1);
    assert_eq!(moto.count(region, "DescribeRegions"), 1);
    assert_eq!(proxy.count("DescribeRegions"), 2);

    // SSM through the proxy: the command is forwarded, its invocation reported as failed,
    // while moto itself says Success.
    let ec2 = moto.ec2(region);
    let ssm_direct = moto.ssm(region);
    let ssm_proxy = ssm_client(&proxy.endpoint(), region);
    let (via_proxy, direct) = moto.block_on(async move {
        let run = ec2
            .run_instances()
            .image_id(UBUNTU_AMI)
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .expect("RunInstances");
        let instance = run.instances()[0].instance_id().unwrap().to_string();
        let sent = ssm_proxy
            .send_command()
            .document_name("AWS-RunShellScript")
            .instance_ids(&instance)
            .parameters("commands", vec!["true".to_string()])
            .send()
            .await
            .expect("SendCommand via proxy");
        let command_id = sent.command().unwrap().command_id().unwrap().to_string();
        let via_proxy = ssm_proxy
            .get_command_invocation()
            .command_id(&command_id)
            .instance_id(&instance)
            .send()
            .await
            .expect("GetCommandInvocation via proxy");
        let direct = ssm_direct
            .get_command_invocation()
            .command_id(&command_id)
            .instance_id(&instance)
            .send()
            .await
            .expect("GetCommandInvocation direct");
        (via_proxy, direct)
    });
    assert_eq!(via_proxy.status().map(|s| s.as_str()), Some("Failed"));
    assert_eq!(via_proxy.response_code(), 3);
    assert_eq!(via_proxy.standard_error_content(), Some("boom"));
    assert_eq!(direct.status().map(|s| s.as_str()), Some("Success"));
    assert_eq!(proxy.applied(2), 1);
    assert_eq!(moto.count(region, "SendCommand"), 1);
    assert_eq!(moto.count(region, "GetCommandInvocation"), 2);
}

#[test]
fn terraform_runs_with_the_cli_configuration() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tf = Terraform::new(
        moto,
        region,
        r#"
terraform {
  required_providers {
    immutable = { source = "immutable-release/immutable" }
  }
}

variable "aws_endpoint" {
  type    = string
  default = ""
}

provider "immutable" {}

output "endpoint" {
  value = var.aws_endpoint
}
"#,
    )
    .with_timeout(Duration::from_secs(120));

    let version = tf.run(&["version"], &[]);
    version.assert_success();
    assert!(
        version.stdout.contains("Terraform v"),
        "{}",
        version.combined()
    );
    let config = std::fs::read_to_string(tf.cli_config()).unwrap();
    assert!(config.contains("dev_overrides"), "{config}");
    assert!(config.contains("immutable-release/immutable"), "{config}");

    match find_plugin_dir() {
        None => eprintln!(
            "NOTE: terraform-provider-immutable is not built: skipped `terraform validate` \
             (cargo build -p terraform-provider-immutable)"
        ),
        Some(dir) => {
            assert!(config.contains(&dir.display().to_string()), "{config}");
            let run = tf.validate();
            run.assert_success();
            assert!(
                run.stdout.contains("The configuration is valid"),
                "{}",
                run.combined()
            );
        }
    }
}

fn call(service: &str, action: &str, region: &str) -> RecordedCall {
    RecordedCall {
        service: service.into(),
        action: action.into(),
        region: region.into(),
    }
}
