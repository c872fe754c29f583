//! The plugin binary Terraform starts: all of go-plugin's start-up contract lives in
//! [`terraform_provider_immutable::plugin::run`]. Terraform passes no arguments; `--version`
//! (for people and `scripts/install`) prints the version and exits.

use terraform_provider_immutable::plugin;

fn main() -> std::process::ExitCode {
    if std::env::args()
        .nth(1)
        .is_some_and(|a| matches!(a.as_str(), "--version" | "-version" | "version"))
    {
        println!(
            "terraform-provider-immutable {}",
            terraform_provider_immutable::VERSION
        );
        return std::process::ExitCode::SUCCESS;
    }
    let provider = terraform_provider_immutable::tf::server::ProviderService::new(
        terraform_provider_immutable::provider::ImmutableProvider,
    );
    plugin::run(provider, terraform_provider_immutable::VERSION)
}
