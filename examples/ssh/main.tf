# Bake an AMI over SSH, Packer's classic path: a temporary key pair and security group, the
# script uploaded and run with `sudo -S sh -c`, the code tag as $1 and in CODE_TAG. Both are
# deleted when the bake ends, also on failure and Ctrl-C.
#
#   terraform apply -var tag=v1.0.0 -var 'allowed_cidrs=["203.0.113.7/32"]'
#
# `examples/ssh/run-local` runs this against a local AWS emulator, with a throwaway sshd on
# loopback standing in for the builder (ssh_host/ssh_port point there). Against real AWS, leave
# `aws_endpoint`, `ssh_host` and `ssh_port` unset and let `allowed_cidrs` hold the address
# Terraform runs from (or use `ssh_bastion` for a private subnet, see the resource docs).

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

variable "app_repo" {
  description = "The git repository the script clones."
  type        = string
  default     = "https://github.com/acme/web.git"
}

variable "app_dir" {
  description = "Where the script checks the code out on the builder."
  type        = string
  default     = "/opt/web"
}

variable "allowed_cidrs" {
  description = "Who may reach the builder's SSH port: the machine Terraform runs on."
  type        = list(string)
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "aws_endpoint" {
  description = "Endpoint of a local AWS emulator; null for real AWS."
  type        = string
  default     = null
}

variable "ssh_username" {
  description = "The source AMI's login user (ubuntu on Ubuntu, ec2-user on Amazon Linux)."
  type        = string
  default     = "ubuntu"
}

variable "ssh_host" {
  description = "Connect here instead of the builder's public address (a port forward, a test sshd)."
  type        = string
  default     = null
}

variable "ssh_port" {
  type    = number
  default = 22
}

provider "immutable" {
  region   = var.region
  endpoint = var.aws_endpoint

  default_tags {
    tags = {
      managed-by = "terraform"
      app        = "web"
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
  name_template = "web-{{tag}}-{{timestamp}}"

  communicator      = "ssh"
  ssh_username      = var.ssh_username
  ssh_allowed_cidrs = var.allowed_cidrs
  ssh_host          = var.ssh_host
  ssh_port          = var.ssh_port

  environment = {
    APP_REPO = var.app_repo
    APP_DIR  = var.app_dir
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
