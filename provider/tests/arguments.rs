//! Every argument of every schema — the provider block, each resource, each data source — driven
//! with random values (unknowns, nulls, huge and negative numbers, odd strings, unknown list
//! elements and map values, whole blocks unknown as from `dynamic`) through the real RPC entry
//! points of the provider service: validate, and for what validates, configure, plan and read.
//! No input may crash the plugin (a panic would come back as "The provider crashed in …"), and
//! every refusal at validate names the attribute it is about.
//!
//! AWS is a closed port: plan and read get as far as their first AWS call, which fails fast.

use std::collections::BTreeMap;

use proptest::prelude::*;
use terraform_provider_immutable::provider::ImmutableProvider;
use terraform_provider_immutable::tf::schema::{Block, Mode, Nesting, Schema};
use terraform_provider_immutable::tf::server::ProviderService;
use terraform_provider_immutable::tf::value::{encode_msgpack, Number, Type, Value};
use tfplugin_protos::tfplugin6 as pb;
use tfplugin_protos::tfplugin6::provider_server::Provider as _;
use tonic::Request;

/// Refusals about the configuration as a whole, not one attribute: the only ones allowed without
/// a path.
const WHOLE_CONFIG: [&str; 1] = ["No filter"];

const STRINGS: [&str; 24] = [
    "",
    " ",
    "ami-",
    "ami-1e749f67",
    "sg-0123456789abcdef0",
    "subnet-12345678",
    "99999999999999999999999h",
    "-5m",
    "1h30m",
    "0s",
    "25%",
    "0",
    "-1",
    "1e400",
    "ssh",
    "ssm",
    "external",
    "elb",
    "aws:reserved",
    "é✓\u{0}\n",
    "{{tag}}-{{timestamp}}",
    "arn:aws:iam::123456789012:role/x",
    "http://127.0.0.1:9",
    "Launch",
];

fn number(rng: &mut fastrand::Rng) -> Value {
    Value::Number(match rng.u8(0..9) {
        0 => Number::Int(0),
        1 => Number::Int(-1),
        2 => Number::Int(i64::MAX),
        3 => Number::Int(i64::MIN),
        4 => Number::Decimal(format!("1{}", "0".repeat(400))),
        5 => Number::Float(0.5),
        6 => Number::Int(65536),
        7 => Number::Decimal("-1e400".into()),
        _ => Number::Int(rng.i64(1..100)),
    })
}

fn string(rng: &mut fastrand::Rng) -> Value {
    Value::String(match rng.u8(0..6) {
        0 => "x".repeat(rng.usize(100..400)),
        _ => STRINGS[rng.usize(..STRINGS.len())].to_string(),
    })
}

/// A value of `ty`, or null or unknown at any depth.
fn value(rng: &mut fastrand::Rng, ty: &Type, depth: u8) -> Value {
    match rng.u8(0..10) {
        0 => return Value::Null,
        1 => return Value::unknown(),
        _ => {}
    }
    let n = if depth > 2 { 0 } else { rng.usize(0..4) };
    match ty {
        Type::Bool => Value::Bool(rng.bool()),
        Type::Number => number(rng),
        Type::String | Type::Dynamic => string(rng),
        Type::List(e) => Value::List((0..n).map(|_| element(rng, e, depth)).collect()),
        Type::Set(e) => {
            let mut items: Vec<Value> = (0..n).map(|_| element(rng, e, depth)).collect();
            // Set elements are distinct.
            items.dedup();
            let mut distinct = Vec::new();
            for i in items {
                if !distinct.contains(&i) {
                    distinct.push(i);
                }
            }
            Value::Set(distinct)
        }
        Type::Map(e) => Value::Map(
            (0..n)
                .map(|_| {
                    let key = match string(rng) {
                        Value::String(s) => s,
                        _ => String::new(),
                    };
                    (key, element(rng, e, depth))
                })
                .collect(),
        ),
        Type::Object(attrs) => Value::Object(
            attrs
                .iter()
                .map(|(k, t)| (k.clone(), value(rng, t, depth + 1)))
                .collect(),
        ),
        Type::Tuple(ts) => Value::Tuple(ts.iter().map(|t| value(rng, t, depth + 1)).collect()),
    }
}

/// Collection elements are never null in Terraform, but may be unknown.
fn element(rng: &mut fastrand::Rng, ty: &Type, depth: u8) -> Value {
    loop {
        let v = value(rng, ty, depth + 1);
        if !v.is_null() {
            return v;
        }
    }
}

/// A configuration of `block`: arguments random, computed-only attributes null, nested blocks
/// absent, present (up to their limit) or unknown as a whole (a `dynamic` block).
fn config(rng: &mut fastrand::Rng, block: &Block) -> Value {
    let mut fields = BTreeMap::new();
    for a in &block.attributes {
        let v = if a.mode == Mode::Computed {
            Value::Null
        } else {
            value(rng, &a.ty, 0)
        };
        fields.insert(a.name.clone(), v);
    }
    for nb in &block.blocks {
        let max = if nb.max_items > 0 {
            nb.max_items as usize
        } else {
            2
        };
        let v = match (nb.nesting, rng.u8(0..5)) {
            (Nesting::Single, 0) => Value::Null,
            (Nesting::Single, _) => config(rng, &nb.block),
            (_, 0) => Value::unknown(),
            (Nesting::List, _) => Value::List(
                (0..rng.usize(0..=max))
                    .map(|_| config(rng, &nb.block))
                    .collect(),
            ),
            (Nesting::Set, _) => Value::Set(
                (0..rng.usize(0..=max))
                    .map(|_| config(rng, &nb.block))
                    .collect(),
            ),
        };
        fields.insert(nb.name.clone(), v);
    }
    Value::Object(fields)
}

/// A configuration that validates, for each type: the random ones start from it and change one
/// to three arguments, so most reach plan and every refusal is about a changed argument.
fn base(name: &str) -> Value {
    let s = |v: &str| Value::String(v.into());
    match name {
        "immutable_image" => Value::object([
            ("source_ami", s("ami-1e749f67")),
            ("code_tag", s("v1")),
            ("script", s("echo hi")),
        ]),
        "rolling_asg_release" => Value::object([
            ("autoscaling_group_name", s("web")),
            ("image_id", s("ami-1e749f67")),
        ]),
        other => panic!("no base configuration for {other}: add one"),
    }
}

/// `base` with up to three arguments (attributes or nested blocks) replaced by random values.
fn mutated(rng: &mut fastrand::Rng, block: &Block, base: Value) -> Value {
    let ty = block.value_type();
    let Ok(Value::Object(mut fields)) = terraform_provider_immutable::tf::value::conform(base, &ty)
    else {
        panic!("base configuration does not fit the schema")
    };
    for nb in &block.blocks {
        if nb.nesting != Nesting::Single {
            fields.insert(nb.name.clone(), Value::List(vec![]));
        }
    }
    let random = config(rng, block);
    let arguments: Vec<&str> = block
        .attributes
        .iter()
        .filter(|a| a.mode != Mode::Computed)
        .map(|a| a.name.as_str())
        .chain(block.blocks.iter().map(|b| b.name.as_str()))
        .collect();
    for _ in 0..rng.usize(0..=3) {
        let name = arguments[rng.usize(..arguments.len())];
        fields.insert(name.to_string(), random.get(name).clone());
    }
    Value::Object(fields)
}

fn dynamic(v: &Value, ty: &Type) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: encode_msgpack(v, ty).expect("generated values fit their schema"),
        json: vec![],
    }
}

fn no_crash(rpc: &str, what: &str, diags: &[pb::Diagnostic], input: &Value) {
    for d in diags {
        assert!(
            !d.summary.starts_with("The provider crashed"),
            "{rpc} of {what} crashed: {}: {}\ninput: {input:?}",
            d.summary,
            d.detail
        );
    }
}

fn refusals_name_their_attribute(what: &str, diags: &[pb::Diagnostic], input: &Value) {
    for d in diags {
        if d.severity == pb::diagnostic::Severity::Error as i32
            && !WHOLE_CONFIG.contains(&d.summary.as_str())
        {
            assert!(
                d.attribute.as_ref().is_some_and(|p| !p.steps.is_empty()),
                "{what}: refusal without an attribute path: {}: {}\ninput: {input:?}",
                d.summary,
                d.detail
            );
        }
    }
}

fn service() -> ProviderService<ImmutableProvider> {
    ProviderService::new(ImmutableProvider)
}

type Named = Vec<(&'static str, Schema)>;

/// Resource schemas and data source schemas, by type name.
fn schemas(s: &ProviderService<ImmutableProvider>) -> (Named, Named) {
    (
        s.resource_schemas().map(|(n, s)| (n, s.clone())).collect(),
        s.data_source_schemas()
            .map(|(n, s)| (n, s.clone()))
            .collect(),
    )
}

/// A provider configured against a closed port: every AWS call fails at once.
async fn configured(s: &ProviderService<ImmutableProvider>) {
    let ty = s.provider_schema().block.value_type();
    let cfg = Value::object([
        ("endpoint", Value::String("http://127.0.0.1:9".into())),
        ("region", Value::String("us-east-1".into())),
        ("max_retries", Value::Number(Number::Int(0))),
    ]);
    let cfg = match terraform_provider_immutable::tf::value::conform(cfg, &ty) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    let r = s
        .configure_provider(Request::new(pb::configure_provider::Request {
            config: Some(dynamic(&cfg, &ty)),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
}

fn runtime() -> tokio::runtime::Runtime {
    // Credentials from the environment, never from instance metadata (which would wait).
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_provider_block_validates_and_configures_without_crashing(seed in any::<u64>()) {
        let rt = runtime();
        let s = service();
        let ty = s.provider_schema().block.value_type();
        let block = &s.provider_schema().block;
        let cfg = mutated(&mut fastrand::Rng::with_seed(seed), block, Value::object([("region", Value::String("us-east-1".into()))]));
        rt.block_on(async {
            let r = s.validate_provider_config(Request::new(pb::validate_provider_config::Request {
                config: Some(dynamic(&cfg, &ty)),
            })).await.unwrap().into_inner();
            no_crash("ValidateProviderConfig", "provider", &r.diagnostics, &cfg);
            refusals_name_their_attribute("provider", &r.diagnostics, &cfg);
            let r = s.configure_provider(Request::new(pb::configure_provider::Request {
                config: Some(dynamic(&cfg, &ty)),
                ..Default::default()
            })).await.unwrap().into_inner();
            no_crash("ConfigureProvider", "provider", &r.diagnostics, &cfg);
        });
    }

    #[test]
    fn every_resource_validates_and_plans_without_crashing(seed in any::<u64>()) {
        let rt = runtime();
        let s = service();
        rt.block_on(configured(&s));
        let (resources, _) = schemas(&s);
        let mut rng = fastrand::Rng::with_seed(seed);
        for (name, schema) in resources {
            let ty = schema.block.value_type();
            let cfg = mutated(&mut rng, &schema.block, base(name));
            rt.block_on(async {
                let r = s.validate_resource_config(Request::new(pb::validate_resource_config::Request {
                    type_name: name.into(),
                    config: Some(dynamic(&cfg, &ty)),
                    // Terraform 1.11: write-only arguments allowed.
                    client_capabilities: Some(pb::ClientCapabilities {
                        deferral_allowed: false,
                        write_only_attributes_allowed: true,
                    }),
                })).await.unwrap().into_inner();
                no_crash("ValidateResourceConfig", name, &r.diagnostics, &cfg);
                refusals_name_their_attribute(name, &r.diagnostics, &cfg);
                let refused = r.diagnostics.iter().any(|d| d.severity == pb::diagnostic::Severity::Error as i32);
                if !refused {
                    // What Terraform plans after a clean validate: create, proposed = config.
                    let r = s.plan_resource_change(Request::new(pb::plan_resource_change::Request {
                        type_name: name.into(),
                        prior_state: None,
                        proposed_new_state: Some(dynamic(&cfg, &ty)),
                        config: Some(dynamic(&cfg, &ty)),
                        ..Default::default()
                    })).await.unwrap().into_inner();
                    no_crash("PlanResourceChange", name, &r.diagnostics, &cfg);
                    if std::env::var_os("ARGUMENTS_TRACE").is_some() {
                        eprintln!("planned {name}: {:?}", r.diagnostics.iter().map(|d| &d.summary).collect::<Vec<_>>());
                    }
                }
            });
        }
    }

    #[test]
    fn every_data_source_validates_and_reads_without_crashing(seed in any::<u64>()) {
        let rt = runtime();
        let s = service();
        rt.block_on(configured(&s));
        let (_, data_sources) = schemas(&s);
        let mut rng = fastrand::Rng::with_seed(seed);
        for (name, schema) in data_sources {
            let ty = schema.block.value_type();
            let cfg = mutated(&mut rng, &schema.block, Value::object([("code_tag", Value::String("v1".into()))]));
            rt.block_on(async {
                let r = s.validate_data_resource_config(Request::new(pb::validate_data_resource_config::Request {
                    type_name: name.into(),
                    config: Some(dynamic(&cfg, &ty)),
                })).await.unwrap().into_inner();
                no_crash("ValidateDataResourceConfig", name, &r.diagnostics, &cfg);
                refusals_name_their_attribute(name, &r.diagnostics, &cfg);
                let refused = r.diagnostics.iter().any(|d| d.severity == pb::diagnostic::Severity::Error as i32);
                if !refused && cfg.is_wholly_known() {
                    let r = s.read_data_source(Request::new(pb::read_data_source::Request {
                        type_name: name.into(),
                        config: Some(dynamic(&cfg, &ty)),
                        ..Default::default()
                    })).await.unwrap().into_inner();
                    no_crash("ReadDataSource", name, &r.diagnostics, &cfg);
                }
            });
        }
    }
}
