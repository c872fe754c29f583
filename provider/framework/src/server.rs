//! The `tfplugin6.Provider` gRPC service: decodes what Terraform sends, dispatches to the
//! provider configuration, the resources and the data sources, encodes the answers. Resources
//! and data sources never see protobuf.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tfplugin_protos::tfplugin6 as pb;
use tonic::{Request, Response, Status};

use super::data_source::DataSource;
use super::diag::{Diagnostic, Diagnostics};
use super::guard::guarded;
use super::plan_helpers::{
    defaults_where_config_is_null, fill_defaults, null_write_only, unknown_computed, write_only_set,
};
use super::provider::Provider;
use super::resource::{ApplyRequest, Cx, PlanRequest, Resource};
use super::schema::Schema;
use super::value::{self, Type, UnknownAttrs, Value};
use super::wire;
use crate::cancel::Cancel;

struct Registered<S> {
    resource: Arc<dyn Resource<S>>,
    schema: Schema,
    ty: Type,
}

struct RegisteredDataSource<S> {
    data_source: Arc<dyn DataSource<S>>,
    schema: Schema,
    ty: Type,
}

pub struct ProviderService<P: Provider> {
    provider: P,
    provider_schema: Schema,
    provider_ty: Type,
    resources: BTreeMap<&'static str, Registered<P::State>>,
    data_sources: BTreeMap<&'static str, RegisteredDataSource<P::State>>,
    /// Built once: Terraform asks for the schema on every one of its several plugin starts.
    schema_response: pb::get_provider_schema::Response,
    /// What ConfigureProvider produced; `None` until then.
    state: RwLock<Option<Arc<P::State>>>,
    cancel: Cancel,
}

impl<P: Provider> ProviderService<P> {
    pub fn new(provider: P) -> Self {
        let resources = provider.resources();
        let data_sources = provider.data_sources();
        let provider_schema = provider.schema();
        let provider_ty = provider_schema.block.value_type();
        let resources: BTreeMap<_, _> = resources
            .into_iter()
            .map(|r| {
                let schema = r.schema();
                let ty = schema.block.value_type();
                (
                    r.type_name(),
                    Registered {
                        resource: r,
                        schema,
                        ty,
                    },
                )
            })
            .collect();
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(wire::schema(&provider_schema)),
            resource_schemas: resources
                .iter()
                .map(|(name, r)| (name.to_string(), wire::schema(&r.schema)))
                .collect(),
            server_capabilities: Some(pb::ServerCapabilities {
                plan_destroy: false,
                get_provider_schema_optional: false,
                move_resource_state: false,
            }),
            ..Default::default()
        };
        let mut service = ProviderService {
            provider,
            provider_schema,
            provider_ty,
            resources,
            data_sources: BTreeMap::new(),
            schema_response,
            state: RwLock::new(None),
            cancel: Cancel::new(),
        };
        service.add_data_sources(data_sources);
        service
    }

    /// Data sources are served beside the resources; their schemas join GetProviderSchema.
    fn add_data_sources(&mut self, data_sources: Vec<Arc<dyn DataSource<P::State>>>) {
        for d in data_sources {
            let schema = d.schema();
            let ty = schema.block.value_type();
            self.schema_response
                .data_source_schemas
                .insert(d.type_name().to_string(), wire::schema(&schema));
            self.data_sources.insert(
                d.type_name(),
                RegisteredDataSource {
                    data_source: d,
                    schema,
                    ty,
                },
            );
        }
    }

    fn data_source(&self, type_name: &str) -> Result<&RegisteredDataSource<P::State>, Diagnostics> {
        self.data_sources.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown data source",
                format!("This provider has no data source {type_name:?}."),
            )
            .into()
        })
    }

    fn registered(&self, type_name: &str) -> Result<&Registered<P::State>, Diagnostics> {
        self.resources.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown resource type",
                format!("This provider has no resource type {type_name:?}."),
            )
            .into()
        })
    }

    fn cx(&self) -> Cx<P::State> {
        Cx::new(
            self.state.read().unwrap_or_else(|e| e.into_inner()).clone(),
            self.cancel.clone(),
        )
    }

    async fn plan(
        &self,
        req: &pb::plan_resource_change::Request,
    ) -> Result<pb::plan_resource_change::Response, Diagnostics> {
        let r = self.registered(&req.type_name)?;
        let prior = wire::decode(req.prior_state.as_ref(), &r.ty, "prior state")?;
        let proposed = wire::decode(req.proposed_new_state.as_ref(), &r.ty, "proposed state")?;
        let config = wire::decode(req.config.as_ref(), &r.ty, "configuration")?;
        if proposed.is_null() {
            // Destroy plans are not sent (plan_destroy = false); answer in kind if one comes.
            return Ok(pb::plan_resource_change::Response {
                planned_state: req.proposed_new_state.clone(),
                ..Default::default()
            });
        }
        let proposed = defaults_where_config_is_null(&r.schema.block, proposed, &config);
        let mut proposed = fill_defaults(&r.schema.block, proposed);
        if prior.is_null() {
            proposed = unknown_computed(&r.schema.block, proposed);
        }
        let cx = self.cx();
        let planned = r
            .resource
            .plan(
                &cx,
                PlanRequest {
                    prior: &prior,
                    proposed: &proposed,
                    config: &config,
                },
            )
            .await?;
        let mut diags = cx.take_warnings();
        let planned_state = null_write_only(&r.schema.block, planned.state);
        let planned_state = match wire::encode(&planned_state, &r.ty, "planned state") {
            Ok(v) => Some(v),
            Err(d) => {
                diags.extend(d);
                None
            }
        };
        Ok(pb::plan_resource_change::Response {
            planned_state,
            requires_replace: planned.requires_replace.iter().map(wire::path).collect(),
            diagnostics: wire::diagnostics(&diags),
            ..Default::default()
        })
    }

    async fn apply(
        &self,
        req: &pb::apply_resource_change::Request,
    ) -> pb::apply_resource_change::Response {
        let r = match self.registered(&req.type_name) {
            Ok(r) => r,
            Err(d) => return apply_error(req.prior_state.clone(), d),
        };
        let decoded = (|| {
            Ok::<_, Diagnostics>((
                wire::decode(req.prior_state.as_ref(), &r.ty, "prior state")?,
                wire::decode(req.planned_state.as_ref(), &r.ty, "planned state")?,
                wire::decode(req.config.as_ref(), &r.ty, "configuration")?,
            ))
        })();
        let (prior, planned, config) = match decoded {
            Ok(v) => v,
            Err(d) => return apply_error(req.prior_state.clone(), d),
        };
        let cx = self.cx();
        let areq = ApplyRequest {
            prior: &prior,
            planned: &planned,
            config: &config,
        };
        let result = if planned.is_null() {
            r.resource.delete(&cx, &prior).await.map(|()| Value::Null)
        } else if prior.is_null() {
            r.resource.create(&cx, areq).await
        } else {
            r.resource.update(&cx, areq).await
        };
        let mut diags = cx.take_warnings();
        let new_state = match result {
            Ok(v) => v,
            Err(d) => {
                diags.extend(d);
                // A failed create leaves nothing behind (resources clean up); a failed update or
                // delete leaves the object as it was.
                prior
            }
        };
        let new_state = null_write_only(&r.schema.block, new_state);
        match wire::encode(&new_state, &r.ty, "new state") {
            Ok(v) => pb::apply_resource_change::Response {
                new_state: Some(v),
                diagnostics: wire::diagnostics(&diags),
                ..Default::default()
            },
            Err(d) => {
                diags.extend(d);
                apply_error(req.prior_state.clone(), diags)
            }
        }
    }
}

/// A data source's state must carry every value its configuration set, unchanged (Terraform
/// rejects anything else); attributes the configuration left null are the data source's to fill.
fn keep_configured(block: &super::schema::Block, config: &Value, state: Value) -> Value {
    let (Value::Object(configured), Value::Object(mut fields)) = (config, state) else {
        return config.clone();
    };
    for a in &block.attributes {
        if let Some(v) = configured.get(&a.name).filter(|v| !v.is_null()) {
            fields.insert(a.name.clone(), v.clone());
        }
    }
    for b in &block.blocks {
        if let Some(v) = configured.get(&b.name) {
            fields.insert(b.name.clone(), v.clone());
        }
    }
    Value::Object(fields)
}

fn apply_error(
    prior: Option<pb::DynamicValue>,
    d: Diagnostics,
) -> pb::apply_resource_change::Response {
    pb::apply_resource_change::Response {
        new_state: prior,
        diagnostics: wire::diagnostics(&d),
        ..Default::default()
    }
}

/// The RPCs as written; [`pb::provider_server::Provider`] below runs each one guarded.
impl<P: Provider> ProviderService<P> {
    async fn get_provider_schema_unguarded(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(self.schema_response.clone()))
    }

    async fn validate_provider_config_unguarded(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let diags = match wire::decode(
            req.get_ref().config.as_ref(),
            &self.provider_ty,
            "provider configuration",
        ) {
            Ok(v) => self.provider.validate(&v),
            Err(d) => d,
        };
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: wire::diagnostics(&diags),
        }))
    }

    async fn configure_provider_unguarded(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let result = match wire::decode(
            req.get_ref().config.as_ref(),
            &self.provider_ty,
            "provider configuration",
        ) {
            Ok(v) => self.provider.configure(&v).await,
            Err(d) => Err(d),
        };
        let diags = match result {
            Ok(state) => {
                *self.state.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(state));
                Diagnostics::new()
            }
            Err(d) => d,
        };
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: wire::diagnostics(&diags),
        }))
    }

    async fn validate_resource_config_unguarded(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let req = req.get_ref();
        let diags = match self.registered(&req.type_name) {
            Ok(r) => match wire::decode(req.config.as_ref(), &r.ty, "configuration") {
                Ok(v) => {
                    let mut d = r.resource.validate(&v);
                    let allowed = req
                        .client_capabilities
                        .as_ref()
                        .is_some_and(|c| c.write_only_attributes_allowed);
                    if !allowed {
                        for path in write_only_set(&r.schema.block, &v) {
                            d.attr_error(
                                path,
                                "Write-only argument needs Terraform 1.11",
                                "This argument is write-only (never stored in the plan or state), which this Terraform does not support. Upgrade to Terraform 1.11 or later, or use the file-based argument instead.",
                            );
                        }
                    }
                    d
                }
                Err(d) => d,
            },
            Err(d) => d,
        };
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: wire::diagnostics(&diags),
        }))
    }

    async fn validate_data_resource_config_unguarded(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let req = req.get_ref();
        let diags = match self.data_source(&req.type_name) {
            Ok(d) => match wire::decode(req.config.as_ref(), &d.ty, "configuration") {
                Ok(v) => d.data_source.validate(&v),
                Err(e) => e,
            },
            Err(e) => e,
        };
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: wire::diagnostics(&diags),
        }))
    }

    async fn read_data_source_unguarded(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let req = req.get_ref();
        let cx = self.cx();
        let result = async {
            let d = self.data_source(&req.type_name)?;
            let config = wire::decode(req.config.as_ref(), &d.ty, "configuration")?;
            if !config.is_wholly_known() {
                // Terraform defers reads of configurations with unknown values to apply time.
                return Err(Diagnostic::error(
                    "Data source configuration not known yet",
                    format!("{} was asked to read a configuration with values known only after apply; this is a bug in the caller.", req.type_name),
                )
                .into());
            }
            let config = fill_defaults(&d.schema.block, config);
            let state = d.data_source.read(&cx, &config).await?;
            wire::encode(
                &keep_configured(&d.schema.block, &config, state),
                &d.ty,
                "data source state",
            )
        }
        .await;
        let mut diags = cx.take_warnings();
        Ok(Response::new(match result {
            Ok(state) => pb::read_data_source::Response {
                state: Some(state),
                diagnostics: wire::diagnostics(&diags),
                deferred: None,
            },
            Err(e) => {
                diags.extend(e);
                pb::read_data_source::Response {
                    state: None,
                    diagnostics: wire::diagnostics(&diags),
                    deferred: None,
                }
            }
        }))
    }

    async fn upgrade_resource_state_unguarded(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let req = req.get_ref();
        let result = (|| {
            let r = self.registered(&req.type_name)?;
            if req.version > r.schema.version {
                return Err(Diagnostic::error(
                    "State written by a newer provider",
                    format!(
                        "The state of this {} has schema version {}, but this provider knows only up to {}. Upgrade the provider.",
                        req.type_name, req.version, r.schema.version
                    ),
                )
                .into());
            }
            let json = req
                .raw_state
                .as_ref()
                .map(|s| s.json.as_slice())
                .unwrap_or_default();
            // Attributes that older versions stored and this one dropped are ignored rather than
            // failing every refresh.
            let v = value::decode_json(json, &r.ty, UnknownAttrs::Ignore).map_err(|e| {
                Diagnostics::from(Diagnostic::error("Cannot read stored state", e.to_string()))
            })?;
            // A value stored before the attribute became write-only leaves the state here.
            wire::encode(
                &null_write_only(&r.schema.block, v),
                &r.ty,
                "upgraded state",
            )
        })();
        Ok(Response::new(match result {
            Ok(v) => pb::upgrade_resource_state::Response {
                upgraded_state: Some(v),
                diagnostics: vec![],
            },
            Err(d) => pb::upgrade_resource_state::Response {
                upgraded_state: None,
                diagnostics: wire::diagnostics(&d),
            },
        }))
    }

    async fn read_resource_unguarded(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = req.get_ref();
        let cx = self.cx();
        let result = async {
            let r = self.registered(&req.type_name)?;
            let state = wire::decode(req.current_state.as_ref(), &r.ty, "current state")?;
            let new = r.resource.read(&cx, &state).await?.unwrap_or(Value::Null);
            let new = null_write_only(&r.schema.block, new);
            wire::encode(&new, &r.ty, "refreshed state")
        }
        .await;
        let mut diags = cx.take_warnings();
        Ok(Response::new(match result {
            Ok(v) => pb::read_resource::Response {
                new_state: Some(v),
                diagnostics: wire::diagnostics(&diags),
                private: req.private.clone(),
                deferred: None,
            },
            Err(d) => {
                diags.extend(d);
                pb::read_resource::Response {
                    new_state: req.current_state.clone(),
                    diagnostics: wire::diagnostics(&diags),
                    private: req.private.clone(),
                    deferred: None,
                }
            }
        }))
    }

    async fn plan_resource_change_unguarded(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        Ok(Response::new(match self.plan(req.get_ref()).await {
            Ok(r) => r,
            Err(d) => pb::plan_resource_change::Response {
                diagnostics: wire::diagnostics(&d),
                ..Default::default()
            },
        }))
    }

    async fn apply_resource_change_unguarded(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        Ok(Response::new(self.apply(req.get_ref()).await))
    }

    async fn import_resource_state_unguarded(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = req.get_ref();
        let cx = self.cx();
        let result = async {
            let r = self.registered(&req.type_name)?;
            // An import reproduces what a configuration would plan: defaults filled, so the first
            // plan after it shows no diff for arguments the configuration leaves out.
            let state = fill_defaults(&r.schema.block, r.resource.import(&cx, &req.id).await?);
            let state = null_write_only(&r.schema.block, state);
            wire::encode(&state, &r.ty, "imported state")
        }
        .await;
        let mut diags = cx.take_warnings();
        Ok(Response::new(match result {
            Ok(state) => pb::import_resource_state::Response {
                imported_resources: vec![pb::import_resource_state::ImportedResource {
                    type_name: req.type_name.clone(),
                    state: Some(state),
                    private: vec![],
                }],
                diagnostics: wire::diagnostics(&diags),
                deferred: None,
            },
            Err(d) => {
                diags.extend(d);
                pb::import_resource_state::Response {
                    diagnostics: wire::diagnostics(&diags),
                    ..Default::default()
                }
            }
        }))
    }

    async fn stop_provider_unguarded(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        tracing::info!("Terraform asked the provider to stop: in-flight work stops at the next safe point and cleans up");
        self.cancel.trip();
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_provider_schema(
        &self,
        req: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        guarded("GetProviderSchema", self.get_provider_schema_unguarded(req))
            .await
            .unwrap_or_else(|p| {
                let d = p.diagnostics;
                Ok(Response::new(pb::get_provider_schema::Response {
                    diagnostics: wire::diagnostics(&d),
                    ..Default::default()
                }))
            })
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        guarded(
            "ValidateProviderConfig",
            self.validate_provider_config_unguarded(req),
        )
        .await
        .unwrap_or_else(|p| {
            let d = p.diagnostics;
            Ok(Response::new(pb::validate_provider_config::Response {
                diagnostics: wire::diagnostics(&d),
            }))
        })
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        guarded("ConfigureProvider", self.configure_provider_unguarded(req))
            .await
            .unwrap_or_else(|p| {
                let d = p.diagnostics;
                Ok(Response::new(pb::configure_provider::Response {
                    diagnostics: wire::diagnostics(&d),
                }))
            })
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        guarded(
            "ValidateResourceConfig",
            self.validate_resource_config_unguarded(req),
        )
        .await
        .unwrap_or_else(|p| {
            let d = p.diagnostics;
            Ok(Response::new(pb::validate_resource_config::Response {
                diagnostics: wire::diagnostics(&d),
            }))
        })
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        guarded(
            "ValidateDataResourceConfig",
            self.validate_data_resource_config_unguarded(req),
        )
        .await
        .unwrap_or_else(|p| {
            let d = p.diagnostics;
            Ok(Response::new(pb::validate_data_resource_config::Response {
                diagnostics: wire::diagnostics(&d),
            }))
        })
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        guarded("ReadDataSource", self.read_data_source_unguarded(req))
            .await
            .unwrap_or_else(|p| {
                let d = p.diagnostics;
                Ok(Response::new(pb::read_data_source::Response {
                    diagnostics: wire::diagnostics(&d),
                    ..Default::default()
                }))
            })
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        guarded(
            "UpgradeResourceState",
            self.upgrade_resource_state_unguarded(req),
        )
        .await
        .unwrap_or_else(|p| {
            let d = p.diagnostics;
            Ok(Response::new(pb::upgrade_resource_state::Response {
                diagnostics: wire::diagnostics(&d),
                ..Default::default()
            }))
        })
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let prior = req.get_ref().current_state.clone();
        let private = req.get_ref().private.clone();
        guarded("ReadResource", self.read_resource_unguarded(req))
            .await
            .unwrap_or_else(|p| {
                let d = p.diagnostics;
                Ok(Response::new(pb::read_resource::Response {
                    new_state: prior,
                    private,
                    diagnostics: wire::diagnostics(&d),
                    ..Default::default()
                }))
            })
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        guarded(
            "PlanResourceChange",
            self.plan_resource_change_unguarded(req),
        )
        .await
        .unwrap_or_else(|p| {
            let d = p.diagnostics;
            Ok(Response::new(pb::plan_resource_change::Response {
                diagnostics: wire::diagnostics(&d),
                ..Default::default()
            }))
        })
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let prior = req.get_ref().prior_state.clone();
        guarded(
            "ApplyResourceChange",
            self.apply_resource_change_unguarded(req),
        )
        .await
        .unwrap_or_else(|p| {
            let d = p.diagnostics;
            Ok(Response::new(pb::apply_resource_change::Response {
                new_state: prior,
                diagnostics: wire::diagnostics(&d),
                ..Default::default()
            }))
        })
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        guarded(
            "ImportResourceState",
            self.import_resource_state_unguarded(req),
        )
        .await
        .unwrap_or_else(|p| {
            let d = p.diagnostics;
            Ok(Response::new(pb::import_resource_state::Response {
                diagnostics: wire::diagnostics(&d),
                ..Default::default()
            }))
        })
    }

    async fn stop_provider(
        &self,
        req: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        guarded("StopProvider", self.stop_provider_unguarded(req))
            .await
            .unwrap_or_else(|p| {
                let d = p.diagnostics;
                Ok(Response::new(pb::stop_provider::Response {
                    error: d.to_string(),
                }))
            })
    }
}

impl<P: Provider> ProviderService<P> {
    pub fn provider_schema(&self) -> &Schema {
        &self.provider_schema
    }

    /// Every resource type's schema, for the docs generator and its test.
    pub fn resource_schemas(&self) -> impl Iterator<Item = (&'static str, &Schema)> {
        self.resources.iter().map(|(n, r)| (*n, &r.schema))
    }

    /// Every data source's schema, for the docs generator and its test.
    pub fn data_source_schemas(&self) -> impl Iterator<Item = (&'static str, &Schema)> {
        self.data_sources.iter().map(|(n, d)| (*n, &d.schema))
    }
}
