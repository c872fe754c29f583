//! The provider block's AWS settings end to end (issue 15): `allowed_account_ids` /
//! `forbidden_account_ids` checked with sts:GetCallerIdentity before any other call,
//! `assume_role` with every argument, `assume_role_with_web_identity` from a token file, shared
//! config/credentials files with a profile, per-service `endpoints` (`ec2` staying in its
//! region), `custom_ca_bundle` / `AWS_CA_BUNDLE` in front of an HTTPS endpoint with a private CA,
//! and `HTTPS_PROXY` — each with the real terraform, the real plugin and moto.
//!
//! moto 5.2.1 answers STS as AWS does in the ways that matter here: GetCallerIdentity names the
//! account (123456789012 for plain credentials), and the credentials of an assumed role (plain or
//! web identity) belong to the account in the role's ARN.

use e2e_tests::{
    ConnectProxy, FaultProxy, Moto, Terraform, TfRun, TlsFront, MOTO_ACCOUNT_ID, TF_HEADER,
};

const AMI: &str = "ami-1e749f67";
const OTHER_ACCOUNT: &str = "111111111111";

/// An image under a provider block with `provider_body` (which sets the endpoint itself).
fn image_config(provider_body: &str, resource_extra: &str) -> String {
    format!(
        r##"
{TF_HEADER}

provider "immutable" {{
  {provider_body}
}}

resource "immutable_image" "web" {{
  source_ami    = "{AMI}"
  code_tag      = "v1.0.0"
  script        = "#!/bin/sh\necho deploying $1\n"
  name_template = "web-{{{{tag}}}}-{{{{timestamp}}}}"
  {resource_extra}
}}
"##
    )
}

/// Asserts that `run` failed with each of `parts` in its output (terraform wraps long lines, so
/// whitespace is compared collapsed).
fn assert_fails_with(run: &TfRun, parts: &[&str]) {
    let out = run.combined();
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(!run.success(), "expected a failure:\n{out}");
    for p in parts {
        assert!(flat.contains(p), "expected {p:?} in:\n{out}");
    }
}

/// The actions moto received in `region`.
fn actions(moto: &Moto, region: &str) -> Vec<String> {
    moto.recorded_calls(region)
        .into_iter()
        .map(|c| c.action)
        .collect()
}

#[test]
fn account_lists_refuse_a_wrong_account_before_any_other_call() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tf = Terraform::new(
        moto,
        region,
        &format!(
            "{}\nvariable \"accounts\" {{ type = list(string) }}\n",
            image_config(
                "endpoint = var.aws_endpoint\n  allowed_account_ids = var.accounts",
                ""
            )
        ),
    );
    // A variable in the provider block is unknown at validate: validate must pass.
    tf.validate().assert_success();

    let wrong = format!("[\"{OTHER_ACCOUNT}\"]");
    let run = tf.apply(&[("accounts", &wrong)]);
    assert_fails_with(&run, &["Wrong AWS account"]);
    assert_fails_with(&run, &[&format!(
        "belong to AWS account {MOTO_ACCOUNT_ID}, which is not in allowed_account_ids [{OTHER_ACCOUNT}]"
    )]);
    let seen = actions(moto, region);
    assert!(
        !seen.is_empty() && seen.iter().all(|a| a == "GetCallerIdentity"),
        "nothing but the account lookup reached AWS: {seen:?}"
    );

    // The right account: the same configuration plans the bake.
    let right = format!("[\"{MOTO_ACCOUNT_ID}\"]");
    let lookups = moto.count(region, "GetCallerIdentity");
    tf.plan(&[("accounts", &right)]).assert_status(2);
    eprintln!(
        "measured: one `terraform plan` with allowed_account_ids made {} GetCallerIdentity call(s)",
        moto.count(region, "GetCallerIdentity") - lookups
    );
    assert!(moto.count(region, "DescribeImages") > 0);
    assert_eq!(moto.count(region, "RunInstances"), 0);

    // forbidden_account_ids, and the conflict between the two lists at validate.
    let forbidden = Terraform::new(
        moto,
        region,
        &image_config(
            &format!(
                "endpoint = var.aws_endpoint\n  forbidden_account_ids = [\"{MOTO_ACCOUNT_ID}\"]"
            ),
            "",
        ),
    );
    let run = forbidden.apply(&[]);
    assert_fails_with(
        &run,
        &[&format!(
            "which is in forbidden_account_ids [{MOTO_ACCOUNT_ID}]"
        )],
    );
    assert_eq!(moto.count(region, "RunInstances"), 0);
    let both = Terraform::new(
        moto,
        region,
        &image_config(
            &format!("endpoint = var.aws_endpoint\n  allowed_account_ids = [\"{MOTO_ACCOUNT_ID}\"]\n  forbidden_account_ids = [\"12345\"]"),
            "",
        ),
    );
    let run = both.validate();
    assert_fails_with(&run, &["Conflicting account lists"]);
    assert_fails_with(&run, &["Invalid AWS account id"]);
    // terraform quotes the offending line: the diagnostic carries the attribute path.
    assert_fails_with(&run, &["forbidden_account_ids = [\"12345\"]"]);
}

#[test]
fn an_account_list_known_only_after_apply_is_refused_at_its_path() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tf = Terraform::new(
        moto,
        region,
        &format!(
            "{}\nresource \"terraform_data\" \"account\" {{\n  input = \"{MOTO_ACCOUNT_ID}\"\n}}\n",
            image_config(
                "endpoint = var.aws_endpoint\n  allowed_account_ids = [terraform_data.account.output]",
                ""
            )
        ),
    );
    // Never read as "no list": the account guard would silently be off for this run.
    assert_fails_with(
        &tf.plan(&[]),
        &[
            "Provider configuration not known until apply",
            "allowed_account_ids = [terraform_data.account.output]",
        ],
    );
    assert_eq!(moto.count(region, "GetCallerIdentity"), 0);
}

#[test]
fn assume_role_sends_every_argument_and_the_account_check_sees_the_role() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let sts = FaultProxy::start(&moto.endpoint(), vec![]);
    let provider = |account: &str, check: &str| {
        format!(
            r#"endpoint = var.aws_endpoint
  {check}
  endpoints {{
    sts = "{}"
  }}
  assume_role {{
    role_arn            = "arn:aws:iam::{account}:role/deploy"
    session_name        = "e2e-run"
    external_id         = "ext-1"
    duration            = "20m"
    policy              = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "ec2:*", Resource = "*" }}] }})
    policy_arns         = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    tags                = {{ team = "web" }}
    transitive_tag_keys = ["team"]
    source_identity     = "alice"
  }}"#,
            sts.endpoint()
        )
    };
    // The account check looks at the role's account, not the caller's.
    let other = Terraform::new(
        moto,
        region,
        &image_config(
            &provider(
                OTHER_ACCOUNT,
                &format!("forbidden_account_ids = [\"{OTHER_ACCOUNT}\"]"),
            ),
            "",
        ),
    );
    assert_fails_with(
        &other.plan(&[]),
        &[&format!("belong to AWS account {OTHER_ACCOUNT}")],
    );

    let tf = Terraform::new(
        moto,
        region,
        &image_config(
            &provider(
                MOTO_ACCOUNT_ID,
                &format!("allowed_account_ids = [\"{MOTO_ACCOUNT_ID}\"]"),
            ),
            "",
        ),
    );
    tf.plan(&[]).assert_status(2);
    let assume: Vec<String> = sts
        .calls()
        .into_iter()
        .filter(|c| c.call.action.as_deref() == Some("AssumeRole"))
        .map(|c| c.body)
        .collect();
    assert!(!assume.is_empty(), "{:?}", sts.calls());
    let body = &assume[assume.len() - 1];
    for part in [
        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeploy",
        "RoleSessionName=e2e-run",
        "ExternalId=ext-1",
        "DurationSeconds=1200",
        "Policy=%7B",
        "PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess",
        "Tags.member.1.Key=team",
        "Tags.member.1.Value=web",
        "TransitiveTagKeys.member.1=team",
        "SourceIdentity=alice",
    ] {
        assert!(body.contains(part), "AssumeRole without {part}: {body}");
    }
    assert!(sts.count("GetCallerIdentity") >= 1);
    assert!(moto.count(region, "DescribeImages") > 0);
}

#[test]
fn web_identity_from_a_token_file_needs_no_other_credentials() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let sts = FaultProxy::start(&moto.endpoint(), vec![]);
    let provider = |file: &str| {
        format!(
            r#"endpoint = var.aws_endpoint
  allowed_account_ids = ["{MOTO_ACCOUNT_ID}"]
  endpoints {{
    sts = "{}"
  }}
  assume_role_with_web_identity {{
    role_arn                = "arn:aws:iam::{MOTO_ACCOUNT_ID}:role/ci"
    session_name            = "ci-job-7"
    web_identity_token_file = "${{path.module}}/{file}"
    duration                = "15m"
    policy_arns             = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
  }}"#,
            sts.endpoint()
        )
    };
    let mut tf = Terraform::new(moto, region, &image_config(&provider("oidc-token"), ""));
    tf.write_file("oidc-token", "e2e-oidc-token-1\n");
    // No credentials in the environment: the token is the only way in.
    tf.set_env("AWS_ACCESS_KEY_ID", "")
        .set_env("AWS_SECRET_ACCESS_KEY", "");
    tf.plan(&[]).assert_status(2);
    let web: Vec<String> = sts
        .calls()
        .into_iter()
        .filter(|c| c.call.action.as_deref() == Some("AssumeRoleWithWebIdentity"))
        .map(|c| c.body)
        .collect();
    assert!(!web.is_empty(), "{:?}", sts.calls());
    for part in [
        "WebIdentityToken=e2e-oidc-token-1&",
        "RoleSessionName=ci-job-7",
        "DurationSeconds=900",
        "PolicyArns.member.1.arn=",
    ] {
        assert!(
            web[0].contains(part),
            "AssumeRoleWithWebIdentity without {part}: {}",
            web[0]
        );
    }
    // The image reads were signed (moto recorded their region): with the web identity's keys.
    assert!(moto.count(region, "DescribeImages") > 0);

    // assume_role is assumed with the web identity's credentials: the account check sees the
    // second role's account.
    let chained = provider("oidc-token")
        .replace(
            &format!("allowed_account_ids = [\"{MOTO_ACCOUNT_ID}\"]"),
            &format!("forbidden_account_ids = [\"{OTHER_ACCOUNT}\"]"),
        )
        .replace(
            "  assume_role_with_web_identity {",
            &format!(
                "  assume_role {{\n    role_arn = \"arn:aws:iam::{OTHER_ACCOUNT}:role/deploy\"\n  }}\n  assume_role_with_web_identity {{"
            ),
        );
    let mut chain = Terraform::new(moto, region, &image_config(&chained, ""));
    chain.write_file("oidc-token", "e2e-oidc-token-2\n");
    chain
        .set_env("AWS_ACCESS_KEY_ID", "")
        .set_env("AWS_SECRET_ACCESS_KEY", "");
    assert_fails_with(
        &chain.plan(&[]),
        &[&format!(
            "belong to AWS account {OTHER_ACCOUNT}, which is in forbidden_account_ids"
        )],
    );
    assert!(
        sts.calls().iter().any(
            |c| c.call.action.as_deref() == Some("AssumeRoleWithWebIdentity")
                && c.body.contains("e2e-oidc-token-2")
        ),
        "the chain started from the token"
    );

    let mut missing = Terraform::new(moto, region, &image_config(&provider("no-such-file"), ""));
    missing
        .set_env("AWS_ACCESS_KEY_ID", "")
        .set_env("AWS_SECRET_ACCESS_KEY", "");
    assert_fails_with(&missing.plan(&[]), &["cannot read web_identity_token_file"]);
}

#[test]
fn shared_config_and_credentials_files_with_a_profile() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let provider = |profile: &str| {
        format!(
            r#"endpoint                 = var.aws_endpoint
  profile                  = "{profile}"
  shared_config_files      = ["${{path.module}}/aws/config"]
  shared_credentials_files = ["${{path.module}}/aws/credentials"]
  allowed_account_ids      = ["{MOTO_ACCOUNT_ID}"]"#
        )
    };
    let files = |tf: &mut Terraform| {
        tf.write_file(
            "aws/config",
            &format!("[profile team]\nregion = {region}\n"),
        );
        tf.write_file(
            "aws/credentials",
            "[team]\naws_access_key_id = AKIDTEAMEXAMPLE\naws_secret_access_key = team-secret\n",
        );
        // (The runner's AWS_REGION stays: the SDK takes a blank one as a region named "".)
        tf.set_env("AWS_ACCESS_KEY_ID", "")
            .set_env("AWS_SECRET_ACCESS_KEY", "");
    };
    let mut tf = Terraform::new(moto, region, &image_config(&provider("team"), ""));
    files(&mut tf);
    // The credentials come from the files, through the profile.
    tf.plan(&[]).assert_status(2);
    assert!(moto.count(region, "DescribeImages") > 0);

    let mut other = Terraform::new(moto, region, &image_config(&provider("nobody"), ""));
    files(&mut other);
    let run = other.plan(&[]);
    assert!(!run.success(), "{}", run.combined());

    let mut gone = Terraform::new(
        moto,
        region,
        &image_config(
            "endpoint = var.aws_endpoint\n  shared_config_files = [\"/nonexistent/aws-config\"]",
            "",
        ),
    );
    files(&mut gone);
    let run = gone.plan(&[]);
    assert_fails_with(&run, &["Cannot read shared AWS file"]);
    assert_fails_with(&run, &["/nonexistent/aws-config"]);
}

#[test]
fn endpoints_route_each_service_and_ec2_stays_in_its_region() {
    let moto = Moto::shared();
    let home = moto.unique_region();
    let r2 = moto.unique_region();
    let ec2 = FaultProxy::start(&moto.endpoint(), vec![]);
    let ssm = FaultProxy::start(&moto.endpoint(), vec![]);
    let sts = FaultProxy::start(&moto.endpoint(), vec![]);
    let tf = Terraform::new(
        moto,
        home,
        &image_config(
            &format!(
                r#"endpoint = var.aws_endpoint
  forbidden_account_ids = ["{OTHER_ACCOUNT}"]
  endpoints {{
    ec2 = "{}"
    ssm = "{}"
    sts = "{}"
  }}"#,
                ec2.endpoint(),
                ssm.endpoint(),
                sts.endpoint()
            ),
            &format!("copy_to_regions = [\"{r2}\"]"),
        ),
    );
    tf.apply(&[]).assert_success();

    let ec2_calls = ec2.calls();
    assert!(
        ec2_calls
            .iter()
            .any(|c| c.call.action.as_deref() == Some("RunInstances")),
        "the bake's EC2 calls went through endpoints.ec2"
    );
    for c in &ec2_calls {
        assert_eq!(c.call.service.as_deref(), Some("ec2"), "{:?}", c.call);
        assert_eq!(
            c.call.region.as_deref(),
            Some(home),
            "endpoints.ec2 is for the provider's region only: {:?}",
            c.call
        );
    }
    assert_eq!(
        moto.count(r2, "CopyImage"),
        1,
        "the copy's region was reached directly"
    );
    assert!(ssm.count("SendCommand") >= 1, "{:?}", ssm.calls());
    assert!(ssm
        .calls()
        .iter()
        .all(|c| c.call.service.as_deref() == Some("ssm")));
    assert!(sts.count("GetCallerIdentity") >= 1);
    tf.destroy(&[]).assert_success();
}

/// A classic load balancer in `region` (the tests' SDK set has no classic ELB client: one query
/// API call; moto reads the region from the credential scope and checks no signature).
fn create_classic_load_balancer(moto: &Moto, region: &str, name: &str) {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=0"
    );
    let body = format!(
        "Action=CreateLoadBalancer&Version=2012-06-01&LoadBalancerName={name}&Listeners.member.1.Protocol=HTTP&Listeners.member.1.LoadBalancerPort=80&Listeners.member.1.InstancePort=80&AvailabilityZones.member.1={region}a"
    );
    let r = e2e_tests::http::request(
        moto.addr(),
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", &auth),
        ],
        body.as_bytes(),
        std::time::Duration::from_secs(30),
    )
    .expect("moto answers");
    assert_eq!(r.status, 200, "CreateLoadBalancer: {}", r.text());
}

#[test]
fn endpoints_for_auto_scaling_and_load_balancing() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tg = e2e_tests::target_group(moto, region, "settings-tg");
    e2e_tests::template_group(moto, region, "settings-web", 2, AMI);
    moto.block_on(
        moto.autoscaling(region)
            .attach_load_balancer_target_groups()
            .auto_scaling_group_name("settings-web")
            .target_group_arns(&tg)
            .send(),
    )
    .unwrap();
    create_classic_load_balancer(moto, region, "settings-clb");
    moto.block_on(
        moto.autoscaling(region)
            .attach_load_balancers()
            .auto_scaling_group_name("settings-web")
            .load_balancer_names("settings-clb")
            .send(),
    )
    .unwrap();
    let asg = FaultProxy::start(&moto.endpoint(), vec![]);
    let elbv2 = FaultProxy::start(&moto.endpoint(), vec![]);
    let elb = FaultProxy::start(&moto.endpoint(), vec![]);
    let tf = Terraform::new(
        moto,
        region,
        &format!(
            r#"
{TF_HEADER}

provider "immutable" {{
  endpoint = var.aws_endpoint
  endpoints {{
    autoscaling = "{}"
    elbv2       = "{}"
    elb         = "{}"
  }}
}}

resource "rolling_asg_release" "web" {{
  provider               = immutable
  autoscaling_group_name = "settings-web"
  image_id               = "ami-785db401"
  instance_warmup        = "0s"
  batch_timeout          = "60s"
}}
"#,
            asg.endpoint(),
            elbv2.endpoint(),
            elb.endpoint()
        ),
    );
    tf.apply(&[]).assert_success();
    assert!(asg.count("DescribeAutoScalingGroups") >= 1);
    assert!(asg
        .calls()
        .iter()
        .all(|c| c.call.service.as_deref() == Some("autoscaling")));
    assert!(
        elbv2.count("DescribeTargetHealth") >= 1,
        "{:?}",
        elbv2.calls()
    );
    assert!(
        elb.count("DescribeInstanceHealth") >= 1,
        "{:?}",
        elb.calls()
    );
    let direct = actions(moto, region);
    assert!(
        direct.iter().any(|a| a == "DescribeTargetHealth"),
        "moto saw the proxied calls too"
    );
}

#[test]
fn custom_ca_bundle_trusts_a_private_endpoint_also_through_an_https_proxy() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let scratch = std::env::temp_dir().join(format!(
        "immutable-e2e-settings-ca-{}-{region}",
        std::process::id()
    ));
    let front = TlsFront::start(&scratch, moto.port());
    let ca = front.ca_file().display().to_string();
    let provider = |extra: &str| {
        format!(
            "endpoint    = \"{}\"\n  max_retries = 0\n  {extra}",
            front.endpoint()
        )
    };

    // Without the bundle: a TLS error that says what to do.
    let untrusted = Terraform::new(moto, region, &image_config(&provider(""), ""));
    let run = untrusted.plan(&[]);
    assert_fails_with(&run, &["UnknownIssuer"]);
    assert_fails_with(&run, &["custom_ca_bundle"]);
    assert_eq!(moto.count(region, "DescribeImages"), 0);

    // With it, from the argument and from AWS_CA_BUNDLE.
    let trusted = Terraform::new(
        moto,
        region,
        &image_config(&provider(&format!("custom_ca_bundle = \"{ca}\"")), ""),
    );
    trusted.plan(&[]).assert_status(2);
    assert!(moto.count(region, "DescribeImages") > 0);
    assert!(front.handshakes() > 0);
    let mut from_env = Terraform::new(moto, region, &image_config(&provider(""), ""));
    from_env.set_env("AWS_CA_BUNDLE", &ca);
    from_env.plan(&[]).assert_status(2);

    // Through an HTTPS proxy (HTTPS_PROXY, as the SDK's default client reads it).
    let proxy = ConnectProxy::start();
    let mut proxied = Terraform::new(
        moto,
        region,
        &image_config(&provider(&format!("custom_ca_bundle = \"{ca}\"")), ""),
    );
    proxied
        .set_env("HTTPS_PROXY", proxy.url())
        .set_env("NO_PROXY", "");
    proxied.plan(&[]).assert_status(2);
    let tunnels = proxy.tunnels();
    assert!(
        tunnels.contains(&format!("localhost:{}", front.port())),
        "the provider tunnelled through HTTPS_PROXY: {tunnels:?}"
    );

    // The SDK's default client (no custom_ca_bundle) reads HTTPS_PROXY too; SSL_CERT_FILE
    // makes it trust the front's CA as a system root.
    let before = proxy.tunnels().len();
    let mut default_client = Terraform::new(moto, region, &image_config(&provider(""), ""));
    default_client
        .set_env("HTTPS_PROXY", proxy.url())
        .set_env("NO_PROXY", "")
        .set_env("SSL_CERT_FILE", &ca);
    default_client.plan(&[]).assert_status(2);
    assert!(
        proxy.tunnels().len() > before,
        "the default client tunnelled through HTTPS_PROXY: {:?}",
        proxy.tunnels()
    );

    // A file that is not a bundle is refused at its attribute before any call.
    std::fs::write(scratch.join("not-a-bundle.pem"), "hello").unwrap();
    let bad = Terraform::new(
        moto,
        region,
        &image_config(
            &provider(&format!(
                "custom_ca_bundle = \"{}\"",
                scratch.join("not-a-bundle.pem").display()
            )),
            "",
        ),
    );
    let run = bad.plan(&[]);
    assert_fails_with(&run, &["Invalid custom_ca_bundle"]);
    assert_fails_with(&run, &["holds no PEM certificate"]);
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn the_standard_endpoint_variables_keep_working_beside_endpoints() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let ec2 = FaultProxy::start(&moto.endpoint(), vec![]);
    let sts = FaultProxy::start(&moto.endpoint(), vec![]);
    // No `endpoint`: AWS_ENDPOINT_URL for every service, AWS_ENDPOINT_URL_EC2 for EC2, and the
    // block's `endpoints.sts` over both.
    let mut tf = Terraform::new(
        moto,
        region,
        &image_config(
            &format!(
                "forbidden_account_ids = [\"{OTHER_ACCOUNT}\"]\n  endpoints {{\n    sts = \"{}\"\n  }}",
                sts.endpoint()
            ),
            "",
        ),
    );
    tf.set_env("AWS_ENDPOINT_URL", moto.endpoint())
        .set_env("AWS_ENDPOINT_URL_EC2", ec2.endpoint());
    tf.plan(&[]).assert_status(2);
    assert!(ec2.count("DescribeImages") >= 1, "{:?}", ec2.calls());
    assert!(sts.count("GetCallerIdentity") >= 1, "{:?}", sts.calls());
    assert!(ec2
        .calls()
        .iter()
        .all(|c| c.call.service.as_deref() == Some("ec2")));
}
