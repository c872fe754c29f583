//! The plugin binary Terraform starts: all of go-plugin's start-up contract lives in
//! [`terraform_provider_immutable::plugin::run`].

use terraform_provider_immutable::plugin;

fn main() -> std::process::ExitCode {
    let provider = terraform_provider_immutable::tf::server::ProviderService::new(
        terraform_provider_immutable::resources::all(),
    );
    plugin::run(provider)
}
