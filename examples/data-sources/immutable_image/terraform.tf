# Not shown in the docs: what makes this directory a module that `terraform validate` checks
# (tests/doc_examples.rs), the docs' example being resource.tf / data-source.tf beside it.
terraform {
  required_providers {
    immutable = {
      source = "immutable-release/immutable"
    }
  }
}

provider "immutable" {
  region = "eu-west-1"
}

variable "tag" {
  type        = string
  description = "The code tag to bake, e.g. v1.4.2."
  default     = "v1.0.0"
}
