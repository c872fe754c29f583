//! Write-only arguments (protocol 6.8) through the server's real RPC entry points: the value
//! reaches the resource in the apply's configuration, and every plan and state the server
//! returns holds null for it — even from a resource that copies it around. A Terraform without
//! write-only support is told so at validate, with the argument's path.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use provider_framework::data_source::DataSource;
use provider_framework::diag::Diagnostics;
use provider_framework::provider::Provider;
use provider_framework::resource::{ApplyRequest, Cx, PlanRequest, Planned, Resource};
use provider_framework::schema::{string, Attribute, Block, NestedBlock, Schema};
use provider_framework::server::ProviderService;
use provider_framework::value::{decode_msgpack, encode_msgpack, Value};
use tfplugin_protos::tfplugin6 as pb;
use tfplugin_protos::tfplugin6::provider_server::Provider as _;
use tonic::Request;

fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new("")
            .attr(Attribute::optional("name", string(), ""))
            .attr(
                Attribute::optional("secret", string(), "")
                    .sensitive()
                    .write_only(),
            )
            .block(NestedBlock::single(
                "jump",
                Block::new("").attr(Attribute::optional("key", string(), "").write_only()),
            )),
    }
}

/// Copies its configuration into plan and state, secrets included: the server must still keep
/// them out. Remembers the secret it saw at apply.
#[derive(Default)]
struct Careless {
    seen_at_apply: Mutex<Option<Value>>,
}

#[async_trait]
impl Resource<()> for Careless {
    fn type_name(&self) -> &'static str {
        "test_secret"
    }
    fn schema(&self) -> Schema {
        schema()
    }
    fn validate(&self, _: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    async fn plan(&self, _: &Cx<()>, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        Ok(Planned {
            state: req.config.clone(),
            requires_replace: vec![],
        })
    }
    async fn create(&self, _: &Cx<()>, req: ApplyRequest<'_>) -> Result<Value, Diagnostics> {
        *self.seen_at_apply.lock().unwrap() = Some(req.config.get("secret").clone());
        Ok(req.config.clone())
    }
    async fn update(&self, _: &Cx<()>, req: ApplyRequest<'_>) -> Result<Value, Diagnostics> {
        Ok(req.config.clone())
    }
    async fn delete(&self, _: &Cx<()>, _: &Value) -> Result<(), Diagnostics> {
        Ok(())
    }
    async fn read(&self, _: &Cx<()>, state: &Value) -> Result<Option<Value>, Diagnostics> {
        Ok(Some(state.clone()))
    }
}

struct TestProvider(Arc<Careless>);

#[async_trait]
impl Provider for TestProvider {
    type State = ();
    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            block: Block::new(""),
        }
    }
    fn validate(&self, _: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    async fn configure(&self, _: &Value) -> Result<(), Diagnostics> {
        Ok(())
    }
    fn resources(&self) -> Vec<Arc<dyn Resource<()>>> {
        vec![self.0.clone()]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<()>>> {
        vec![]
    }
}

fn config() -> Value {
    Value::object([
        ("name", Value::String("web".into())),
        ("secret", Value::String("hunter2".into())),
        (
            "jump",
            Value::List(vec![Value::object([(
                "key",
                Value::String("also secret".into()),
            )])]),
        ),
    ])
}

fn dynamic(v: &Value) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: encode_msgpack(v, &schema().block.value_type()).unwrap(),
        json: vec![],
    }
}

fn decoded(v: Option<pb::DynamicValue>) -> Value {
    decode_msgpack(&v.expect("a value").msgpack, &schema().block.value_type()).unwrap()
}

fn assert_no_secret(v: &Value, what: &str) {
    assert!(v.get("secret").is_null(), "{what}: {v:?}");
    let Value::List(jumps) = v.get("jump") else {
        panic!("{what}: jump block missing: {v:?}")
    };
    assert!(jumps[0].get("key").is_null(), "{what}: {v:?}");
    assert_eq!(v.get("name"), &Value::String("web".into()), "{what}");
}

#[tokio::test]
async fn write_only_values_reach_apply_and_never_a_plan_or_state() {
    let resource = Arc::new(Careless::default());
    let s = ProviderService::new(TestProvider(resource.clone()));

    let old_terraform = s
        .validate_resource_config(Request::new(pb::validate_resource_config::Request {
            type_name: "test_secret".into(),
            config: Some(dynamic(&config())),
            client_capabilities: None,
        }))
        .await
        .unwrap()
        .into_inner();
    let paths: Vec<Vec<String>> = old_terraform
        .diagnostics
        .iter()
        .map(|d| {
            d.attribute
                .as_ref()
                .unwrap()
                .steps
                .iter()
                .map(|s| format!("{:?}", s.selector))
                .collect()
        })
        .collect();
    assert_eq!(paths.len(), 2, "{:?}", old_terraform.diagnostics);
    assert!(old_terraform.diagnostics[0]
        .summary
        .contains("Terraform 1.11"));

    let new_terraform = s
        .validate_resource_config(Request::new(pb::validate_resource_config::Request {
            type_name: "test_secret".into(),
            config: Some(dynamic(&config())),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: false,
                write_only_attributes_allowed: true,
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(new_terraform.diagnostics.is_empty());

    let plan = s
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "test_secret".into(),
            proposed_new_state: Some(dynamic(&config())),
            config: Some(dynamic(&config())),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    let planned = decoded(plan.planned_state);
    assert_no_secret(&planned, "planned state");

    let apply = s
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "test_secret".into(),
            planned_state: Some(dynamic(&planned)),
            config: Some(dynamic(&config())),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(apply.diagnostics.is_empty(), "{:?}", apply.diagnostics);
    assert_no_secret(&decoded(apply.new_state), "new state");
    assert_eq!(
        resource.seen_at_apply.lock().unwrap().clone(),
        Some(Value::String("hunter2".into())),
        "the resource gets the value from the configuration"
    );

    // A state stored before the attribute was write-only loses the value on upgrade.
    let json = br#"{"name":"web","secret":"hunter2","jump":[{"key":"also secret"}]}"#;
    let upgraded = s
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: "test_secret".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: json.to_vec(),
                flatmap: Default::default(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_no_secret(&decoded(upgraded.upgraded_state), "upgraded state");
}
