//! Bad input, table-driven: every invalid configuration below is refused by `terraform plan`
//! (at validate time, or at plan time for what only AWS can tell: a group or an AMI that does
//! not exist), with a diagnostic whose attribute path makes terraform quote the offending line,
//! and moto's request recorder shows that nothing but read-only calls reached AWS.

use e2e_tests::TF_HEADER;
use e2e_tests::{template_group, Moto, Terraform};

const AMI: &str = "ami-1e749f67";

/// One invalid configuration.
struct Case {
    what: &'static str,
    main_tf: String,
    /// The attribute (or block) terraform must quote from the configuration: the diagnostic
    /// carries its path.
    attr: &'static str,
    /// Part of the diagnostic's text.
    expect: &'static str,
}

fn header(provider_extra: &str) -> String {
    format!(
        r#"
{TF_HEADER}

provider "immutable" {{
  endpoint = var.aws_endpoint
  {provider_extra}
}}
"#
    )
}

/// A valid release of group `web` with `set` lines added (later lines win in intent: each case
/// sets an attribute the base leaves out, or replaces one with `replace`).
fn release(set: &str) -> String {
    format!(
        r#"{}
resource "rolling_asg_release" "web" {{
  provider               = immutable
  autoscaling_group_name = "web"
  image_id               = "{AMI}"
  {set}
}}
"#,
        header("")
    )
}

fn release_replace(from: &str, to: &str) -> String {
    release("").replace(from, to)
}

fn image(set: &str) -> String {
    format!(
        r##"{}
resource "immutable_image" "web" {{
  source_ami = "{AMI}"
  code_tag   = "v1.0.0"
  script     = "#!/bin/sh\necho hi\n"
  {set}
}}
"##,
        header("")
    )
}

fn image_replace(from: &str, to: &str) -> String {
    image("").replace(from, to)
}

/// An image with `set` lines, under a provider block with `provider_extra`.
fn image_with_provider(provider_extra: &str, set: &str) -> String {
    image(set).replacen(&header(""), &header(provider_extra), 1)
}

fn provider(extra: &str) -> String {
    format!(
        r##"{}
resource "immutable_image" "web" {{
  source_ami = "{AMI}"
  code_tag   = "v1.0.0"
  script     = "echo hi"
}}
"##,
        header(extra)
    )
}

fn cases() -> Vec<Case> {
    let c = |what, main_tf: String, attr, expect| Case {
        what,
        main_tf,
        attr,
        expect,
    };
    vec![
        // rolling_asg_release, validate time
        c(
            "batch size 0",
            release(r#"batch_size = "0""#),
            "batch_size",
            "Invalid batch_size",
        ),
        c(
            "batch size 0%",
            release(r#"batch_size = "0%""#),
            "batch_size",
            "Invalid batch_size",
        ),
        c(
            "batch size 150%",
            release(r#"batch_size = "150%""#),
            "batch_size",
            "Invalid batch_size",
        ),
        c(
            "batch size abc",
            release(r#"batch_size = "abc""#),
            "batch_size",
            "Invalid batch_size",
        ),
        c(
            "negative batch size",
            release(r#"batch_size = "-2""#),
            "batch_size",
            "Invalid batch_size",
        ),
        c(
            "unknown strategy",
            release(r#"strategy = "bluegreen""#),
            "strategy",
            "Invalid strategy",
        ),
        c(
            "min healthy above 100",
            release("min_healthy_percentage = 101"),
            "min_healthy_percentage",
            "Invalid min_healthy_percentage",
        ),
        c(
            "negative min healthy",
            release("min_healthy_percentage = -1"),
            "min_healthy_percentage",
            "Invalid min_healthy_percentage",
        ),
        c(
            "replace keeping 100%",
            release("strategy = \"replace\"\n  min_healthy_percentage = 100"),
            "min_healthy_percentage",
            "100%",
        ),
        c(
            "negative warm-up",
            release(r#"instance_warmup = "-5s""#),
            "instance_warmup",
            "negative",
        ),
        c(
            "warm-up without unit",
            release(r#"instance_warmup = "90""#),
            "instance_warmup",
            "Invalid duration",
        ),
        c(
            "malformed pause",
            release(r#"pause_between_batches = "soon""#),
            "pause_between_batches",
            "Invalid duration",
        ),
        c(
            "zero batch timeout",
            release(r#"batch_timeout = "0s""#),
            "batch_timeout",
            "Invalid duration",
        ),
        c(
            "batch timeout in words",
            release(r#"batch_timeout = "15 minutes""#),
            "batch_timeout",
            "Invalid duration",
        ),
        c(
            "unknown health check",
            release(r#"health_check = "http""#),
            "health_check",
            "Invalid health_check",
        ),
        c(
            "unknown launch mode",
            release(r#"launch_mode = "template""#),
            "launch_mode",
            "Invalid launch_mode",
        ),
        c(
            "decreasing checkpoints",
            release("checkpoints = [50, 10]"),
            "checkpoints",
            "Invalid checkpoint",
        ),
        c(
            "checkpoint at 100",
            release("checkpoints = [100]"),
            "checkpoints",
            "Invalid checkpoint",
        ),
        c(
            "checkpoint at 0",
            release("checkpoints = [0]"),
            "checkpoints",
            "Invalid checkpoint",
        ),
        c(
            "suspending Launch",
            release(r#"suspend_processes = ["Launch"]"#),
            "suspend_processes",
            "cannot be suspended",
        ),
        c(
            "unknown process",
            release(r#"suspend_processes = ["AZRebalance", "Nope"]"#),
            "suspend_processes",
            "Unknown process",
        ),
        c(
            "not an AMI id",
            release_replace(
                &format!(r#"image_id               = "{AMI}""#),
                r#"image_id = "img-1""#,
            ),
            "image_id",
            "Invalid AMI id",
        ),
        c(
            "empty group name",
            release_replace(
                r#"autoscaling_group_name = "web""#,
                r#"autoscaling_group_name = """#,
            ),
            "autoscaling_group_name",
            "Empty group name",
        ),
        c(
            "malformed release timeout",
            release("timeouts {\n    update = \"1 hour\"\n  }"),
            "update",
            "Invalid duration",
        ),
        // rolling_asg_release, plan time (a read-only call says so)
        c(
            "a group that does not exist",
            release_replace(
                r#"autoscaling_group_name = "web""#,
                r#"autoscaling_group_name = "no-such-group""#,
            ),
            "autoscaling_group_name",
            "does not exist",
        ),
        // immutable_image, validate time
        c(
            "both source_ami and a filter",
            image("source_ami_filter {\n    owners = [\"self\"]\n    name   = \"x-*\"\n  }"),
            "source_ami",
            "Conflicting source",
        ),
        c(
            "no source",
            image_replace(&format!(r#"source_ami = "{AMI}""#), ""),
            "resource \"immutable_image\"",
            "Missing source",
        ),
        c(
            "source that is no AMI id",
            image_replace(AMI, "img-123"),
            "source_ami",
            "Invalid AMI id",
        ),
        c(
            "unknown communicator",
            image(r#"communicator = "winrm""#),
            "communicator",
            "communicator",
        ),
        c(
            "both script and script_file",
            image(r#"script_file = "x.sh""#),
            "script",
            "Conflicting scripts",
        ),
        c(
            "empty script",
            image_replace(r##""#!/bin/sh\necho hi\n""##, r#""   ""#),
            "script",
            "Empty script",
        ),
        c(
            "empty code tag",
            image_replace(r#""v1.0.0""#, r#""""#),
            "code_tag",
            "Empty code_tag",
        ),
        c(
            "environment name starting with a digit",
            image(r#"environment = { "1APP" = "x" }"#),
            "environment",
            "Invalid environment variable name",
        ),
        c(
            "environment overriding CODE_TAG",
            image(r#"environment = { CODE_TAG = "x" }"#),
            "environment",
            "Reserved variable",
        ),
        c(
            "unknown name placeholder",
            image(r#"name_template = "web-{{time}}""#),
            "name_template",
            "Unknown placeholder",
        ),
        c(
            "malformed create timeout",
            image("timeouts {\n    create = \"ten minutes\"\n  }"),
            "create",
            "Invalid duration",
        ),
        c(
            "filter without owners",
            image_replace(
                &format!(r#"source_ami = "{AMI}""#),
                "source_ami_filter {\n    owners = []\n    name   = \"x-*\"\n  }",
            ),
            "owners",
            "No owners",
        ),
        c(
            "filter with an empty name",
            image_replace(
                &format!(r#"source_ami = "{AMI}""#),
                "source_ami_filter {\n    owners = [\"self\"]\n    name   = \"\"\n  }",
            ),
            "name",
            "Empty name pattern",
        ),
        c(
            "empty instance type",
            image(r#"instance_type = """#),
            "instance_type",
            "Empty instance_type",
        ),
        // immutable_image, plan time
        c(
            "a source AMI that does not exist",
            image_replace(AMI, "ami-00000000000000000"),
            "source_ami",
            "does not exist",
        ),
        // the provider block
        c(
            "region typo",
            provider(r#"region = "us-east1""#),
            "region",
            "Invalid AWS region",
        ),
        c(
            "endpoint without scheme",
            provider("").replace(
                "endpoint = var.aws_endpoint",
                r#"endpoint = "localhost:4566""#,
            ),
            "endpoint",
            "Invalid endpoint URL",
        ),
        c(
            "service endpoint with another scheme",
            provider("endpoints {\n    ec2 = \"ftp://127.0.0.1\"\n  }"),
            "ec2",
            "Invalid endpoint URL",
        ),
        // Types and AWS's documented limits (provider/src/resources/limits.rs), validate time
        c(
            "a number beyond every integer type",
            image("ssh_port = 1e400"),
            "ssh_port",
            "characters) does not fit",
        ),
        c(
            "a duration beyond any clock",
            release(r#"instance_warmup = "99999999999999999999999h""#),
            "instance_warmup",
            "Invalid duration",
        ),
        c(
            "a description over 255 characters",
            image(&format!("description = \"{}\"", "d".repeat(256))),
            "description",
            "Description too long",
        ),
        c(
            "a tag key with AWS's reserved prefix",
            image(r#"tags = { "AWS:owner" = "me" }"#),
            "tags",
            "Reserved tag key",
        ),
        c(
            "a tag value over 256 characters",
            image(&format!("tags = {{ team = \"{}\" }}", "v".repeat(257))),
            "tags",
            "Tag value too long",
        ),
        c(
            "more than 50 tags counting default_tags and the provider's own",
            image_with_provider(
                &format!(
                    "default_tags {{\n    tags = {{ {} }}\n  }}",
                    (0..41)
                        .map(|i| format!("d{i} = \"x\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                r#"tags = { app = "web" }"#,
            ),
            "tags",
            "Too many tags",
        ),
        c(
            "a default tag with AWS's reserved prefix",
            provider("default_tags {\n    tags = { \"aws:x\" = \"y\" }\n  }"),
            "tags",
            "Reserved tag key",
        ),
        c(
            "a subnet id of the wrong form",
            image(r#"subnet_id = "subnet-xyz""#),
            "subnet_id",
            "Invalid subnet id",
        ),
        c(
            "a security group id of the wrong form",
            image(r#"security_group_ids = ["sg-nope"]"#),
            "security_group_ids",
            "Invalid security group id",
        ),
        c(
            "a name template longer than any AMI name",
            image(&format!(
                "name_template = \"{}-{{{{timestamp}}}}\"",
                "n".repeat(120)
            )),
            "name_template",
            "Image name too long",
        ),
        c(
            "a filter pattern no AMI name can match",
            image_replace(
                &format!("source_ami = \"{AMI}\""),
                "source_ami_filter {\n    owners = [\"self\"]\n    name   = \"web+*\"\n  }",
            ),
            "name",
            "Invalid name pattern",
        ),
        c(
            "negative max_retries",
            provider("max_retries = -1"),
            "max_retries",
            "max_retries",
        ),
        c(
            "unknown retry mode",
            provider(r#"retry_mode = "fast""#),
            "retry_mode",
            "retry_mode",
        ),
    ]
}

/// Whether terraform quoted a configuration line starting with `attr` (`  12:   batch_size = …`):
/// it does so for the line a diagnostic's attribute path points at.
fn quotes_line(output: &str, attr: &str) -> bool {
    output.lines().any(|line| {
        let t = line.trim_start();
        let Some((num, rest)) = t.split_once(':') else {
            return false;
        };
        !num.is_empty()
            && num.chars().all(|c| c.is_ascii_digit())
            && rest.trim_start().starts_with(attr)
    })
}

fn is_read_only(action: &str) -> bool {
    ["Describe", "Get", "List"]
        .iter()
        .any(|p| action.starts_with(p))
}

#[test]
fn every_bad_input_names_its_attribute_and_calls_nothing_that_mutates() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    // The group the valid parts refer to exists; a case only breaks one thing.
    template_group(moto, region, "web", 2, AMI);
    let before = moto.recorded_calls(region).len();

    let cases = cases();
    assert!(cases.len() >= 30, "at least 30 cases: {}", cases.len());
    let results: Vec<(String, Result<(), String>)> = std::thread::scope(|s| {
        let chunks: Vec<&[Case]> = cases.chunks(cases.len().div_ceil(3)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|case| {
                            let tf = Terraform::new(moto, region, &case.main_tf);
                            if case.main_tf.contains("script_file = \"x.sh\"") {
                                tf.write_file("x.sh", "echo hi\n");
                            }
                            let run = tf.plan(&[]);
                            let out = run.combined();
                            let folded = out.split_whitespace().collect::<Vec<_>>().join(" ");
                            let r = if run.status != 1 {
                                Err(format!("plan exited {}, not 1", run.status))
                            } else if !folded.contains(case.expect) {
                                Err(format!("no {:?} in the diagnostics", case.expect))
                            } else if !quotes_line(&out, case.attr) {
                                Err(format!("the diagnostic does not point at {:?}", case.attr))
                            } else {
                                Ok(())
                            };
                            (case.what.to_string(), r.map_err(|e| format!("{e}:\n{out}")))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    });
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(what, r)| r.as_ref().err().map(|e| format!("--- {what}: {e}")))
        .collect();
    eprintln!(
        "bad input: {} cases, {} refused with a diagnostic on the attribute",
        results.len(),
        results.len() - failed.len()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));

    let calls = moto.recorded_calls(region);
    let mutating: Vec<&str> = calls[before..]
        .iter()
        .map(|c| c.action.as_str())
        .filter(|a| !is_read_only(a))
        .collect();
    assert!(
        mutating.is_empty(),
        "bad input made mutating AWS calls: {mutating:?}"
    );
}

#[test]
fn a_release_image_that_does_not_exist_is_refused_at_plan() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "web", 2, AMI);
    let tf = Terraform::new(
        moto,
        region,
        &release_replace(
            &format!(r#"image_id               = "{AMI}""#),
            r#"image_id = "ami-00000000000000000""#,
        ),
    );
    let run = tf.plan(&[]);
    run.assert_status(1);
    assert!(
        quotes_line(&run.combined(), "image_id"),
        "{}",
        run.combined()
    );
}
