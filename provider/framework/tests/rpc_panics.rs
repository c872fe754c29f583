//! A panic in an RPC is a bug, but it must cost the user one error diagnostic naming the RPC, not
//! the plugin: the provider service is served over real gRPC (tonic, HTTP/2 on a unix socket) with
//! a resource that panics, and the same connection goes on answering afterwards.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use provider_framework::data_source::DataSource;
use provider_framework::diag::Diagnostics;
use provider_framework::provider::Provider;
use provider_framework::resource::{ApplyRequest, Cx, PlanRequest, Planned, Resource};
use provider_framework::schema::{string, Attribute, Block, Schema};
use provider_framework::server::ProviderService;
use provider_framework::value::{encode_msgpack, Value};
use tfplugin_protos::tfplugin6 as pb;
use tfplugin_protos::tfplugin6::provider_client::ProviderClient;
use tfplugin_protos::tfplugin6::provider_server::ProviderServer;
use tokio::net::{UnixListener, UnixStream};
use tonic::transport::{Channel, Endpoint, Uri};

/// A provider with nothing to configure, serving [`Panicking`].
struct TestProvider;

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
        vec![Arc::new(Panicking)]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<()>>> {
        vec![]
    }
}

/// Panics in validate (synchronously) and in plan (after an await, on whatever worker thread the
/// task resumes on), the two shapes a bug takes.
struct Panicking;

fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new("").attr(Attribute::optional("name", string(), "")),
    }
}

#[async_trait]
impl Resource<()> for Panicking {
    fn type_name(&self) -> &'static str {
        "test_panicking"
    }
    fn schema(&self) -> Schema {
        schema()
    }
    fn validate(&self, config: &Value) -> Diagnostics {
        if config.get("name") == &Value::String("boom".into()) {
            let empty: Vec<u8> = Vec::new();
            let _ = empty[usize::from(config.get("name").is_null())];
        }
        Diagnostics::new()
    }
    async fn plan(&self, _: &Cx<()>, _: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        panic!("plan of {} went wrong", self.type_name());
    }
    async fn create(&self, _: &Cx<()>, _: ApplyRequest<'_>) -> Result<Value, Diagnostics> {
        unreachable!("not planned")
    }
    async fn update(&self, _: &Cx<()>, _: ApplyRequest<'_>) -> Result<Value, Diagnostics> {
        unreachable!("not planned")
    }
    async fn delete(&self, _: &Cx<()>, _: &Value) -> Result<(), Diagnostics> {
        Ok(())
    }
    async fn read(&self, _: &Cx<()>, _: &Value) -> Result<Option<Value>, Diagnostics> {
        panic!("read panics too")
    }
}

fn config(name: &str) -> pb::DynamicValue {
    let ty = schema().block.value_type();
    let v = Value::Object(BTreeMap::from([(
        "name".to_string(),
        Value::String(name.into()),
    )]));
    pb::DynamicValue {
        msgpack: encode_msgpack(&v, &ty).unwrap(),
        json: vec![],
    }
}

async fn serve() -> (ProviderClient<Channel>, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let socket = dir.0.join("plugin.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let service = ProviderService::new(TestProvider);
    tokio::spawn(tonic::transport::Server::builder().serve_with_incoming(
        ProviderServer::new(service),
        tokio_stream::wrappers::UnixListenerStream::new(listener),
    ));
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?)) }
        }))
        .await
        .unwrap();
    (ProviderClient::new(channel), dir)
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let p = std::env::temp_dir().join(format!(
                "rpc-panics-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn only_error(diags: &[pb::Diagnostic]) -> String {
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].severity, pb::diagnostic::Severity::Error as i32);
    format!("{}: {}", diags[0].summary, diags[0].detail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_rpc_answers_with_a_diagnostic_and_the_plugin_keeps_serving() {
    let (mut client, _dir) = serve().await;

    let r = client
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "test_panicking".into(),
            config: Some(config("boom")),
            client_capabilities: None,
        })
        .await
        .expect("an answer, not a dropped stream")
        .into_inner();
    let text = only_error(&r.diagnostics);
    assert!(text.contains("crashed in ValidateResourceConfig"), "{text}");
    assert!(text.contains("index out of bounds"), "{text}");

    let r = client
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "test_panicking".into(),
            prior_state: None,
            proposed_new_state: Some(config("x")),
            config: Some(config("x")),
            ..Default::default()
        })
        .await
        .expect("an answer")
        .into_inner();
    let text = only_error(&r.diagnostics);
    assert!(text.contains("crashed in PlanResourceChange"), "{text}");
    assert!(text.contains("plan of test_panicking went wrong"), "{text}");
    assert!(r.planned_state.is_none());

    // Read keeps the state it was given, so a crash never looks like a deleted object.
    let r = client
        .read_resource(pb::read_resource::Request {
            type_name: "test_panicking".into(),
            current_state: Some(config("kept")),
            ..Default::default()
        })
        .await
        .expect("an answer")
        .into_inner();
    assert!(only_error(&r.diagnostics).contains("crashed in ReadResource"));
    assert_eq!(r.new_state, Some(config("kept")));

    // The same connection still serves, and the same resource validates good input.
    let r = client
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "test_panicking".into(),
            config: Some(config("fine")),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let schema = client
        .get_provider_schema(pb::get_provider_schema::Request::default())
        .await
        .unwrap()
        .into_inner();
    assert!(schema.resource_schemas.contains_key("test_panicking"));
}
