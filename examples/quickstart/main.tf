# Quickstart: bake an AMI for a code tag.
#
#   terraform apply -var tag=v1.0.0
#
# `scripts/quickstart` runs this against a local AWS emulator (moto_server). Against real AWS,
# drop `aws_endpoint`, and give the builder an instance profile that lets the SSM agent register
# (see docs/resources/image.md).

terraform {
  required_providers {
    immutable = {
      source = "immutable-release/immutable"
    }
  }
}

variable "tag" {
  description = "The code tag to deploy, e.g. v1.4.2."
  type        = string
}

variable "aws_endpoint" {
  description = "Endpoint of a local AWS emulator; null for real AWS."
  type        = string
  default     = null
}

variable "region" {
  type    = string
  default = "us-east-1"
}

provider "immutable" {
  region   = var.region
  endpoint = var.aws_endpoint

  default_tags {
    tags = {
      managed-by = "terraform"
      app        = "quickstart"
    }
  }
}

resource "immutable_image" "web" {
  source_ami_filter {
    owners = ["099720109477"] # Canonical
    name   = "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"
  }

  code_tag      = var.tag
  script_file   = "${path.module}/provision.sh"
  name_template = "quickstart-web-{{tag}}-{{timestamp}}"

  environment = {
    APP_REPO = "https://example.com/acme/web.git"
  }

  tags = {
    role = "web"
  }
}

output "image_id" {
  value = immutable_image.web.id
}

output "image_name" {
  value = immutable_image.web.name
}

output "reused" {
  value = immutable_image.web.reused
}
