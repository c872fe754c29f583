# Quickstart: bake an AMI for a code tag, then roll an existing Auto Scaling group onto it in
# batches.
#
#   terraform apply -var tag=v1.0.0
#
# `scripts/quickstart` runs this against a local AWS emulator (moto_server), after creating the
# group "quickstart-web" there. Against real AWS, drop `aws_endpoint`, point `group` at your
# group, and give the builder an instance profile that lets the SSM agent register (see
# docs/resources/image.md).

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

variable "group" {
  description = "The existing Auto Scaling group to release onto the image."
  type        = string
  default     = "quickstart-web"
}

variable "warmup" {
  description = "How long new instances must stay healthy before the next batch."
  type        = string
  default     = "60s"
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

# The type name starts with "rolling_", so the provider must be named explicitly.
resource "rolling_asg_release" "web" {
  provider = immutable

  autoscaling_group_name = var.group
  image_id               = immutable_image.web.id
  batch_size             = "2"
  strategy               = "surge"
  instance_warmup        = var.warmup
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

output "replaced_instances" {
  value = rolling_asg_release.web.replaced_instances
}
