# An Auto Scaling group and its launch template managed by the hashicorp/aws provider, released
# by this provider without the two ever fighting:
#
#   terraform apply -var tag=v1.4.2
#
# bakes the image (immutable_image), points the launch template at it (aws_launch_template,
# through the aws provider), and replaces the group's instances in batches (rolling_asg_release
# with launch_mode = "external", which never edits the template or the group's launch setting).
# The next `terraform plan` is empty. README.md explains every depends_on and lifecycle line.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
    immutable = {
      source = "immutable-release/immutable" # installed with scripts/install
    }
  }
}

variable "tag" {
  description = "The code tag to deploy, e.g. v1.4.2."
  type        = string
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "subnet_ids" {
  description = "Subnets of the group (one per availability zone)."
  type        = list(string)
}

variable "builder_instance_profile" {
  description = "Instance profile of the temporary builder: lets the SSM agent register (AmazonSSMManagedInstanceCore)."
  type        = string
}

variable "target_group_arns" {
  description = "Target groups the instances serve in; the release then waits for them to be healthy there too."
  type        = list(string)
  default     = []
}

provider "aws" {
  region = var.region

  # The release keeps two tags on the group while it runs (its lock, and its record, which a
  # killed apply resumes from). The aws provider must neither report nor delete them.
  ignore_tags {
    key_prefixes = ["immutable:"]
  }
}

provider "immutable" {
  region = var.region
}

resource "immutable_image" "web" {
  source_ami_filter {
    owners = ["099720109477"] # Canonical
    name   = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"
  }

  code_tag             = var.tag
  script_file          = "${path.module}/provision.sh"
  iam_instance_profile = var.builder_instance_profile
  name_template        = "web-{{tag}}-{{timestamp}}"

  environment = {
    APP_REPO = "https://github.com/acme/web.git"
  }

  tags = {
    app = "web"
  }

  # A new tag replaces this resource; the previous image is then forgotten, not deregistered:
  # instances still run it until the release replaces them, and setting the tag back (the
  # rollback) adopts it again instead of baking.
  retain_on_destroy = true
}

resource "aws_launch_template" "web" {
  name_prefix   = "web-"
  image_id      = immutable_image.web.id
  instance_type = "t3.small"

  # Each new image becomes a new version, and that version the default: the group below runs
  # "$Default", so it launches the new image without itself being changed.
  update_default_version = true

  tag_specifications {
    resource_type = "instance"
    tags = {
      app = "web"
    }
  }
}

resource "aws_autoscaling_group" "web" {
  name                = "web"
  min_size            = 2
  max_size            = 8 # room for a surge batch: desired_capacity + batch_size
  desired_capacity    = 4
  vpc_zone_identifier = var.subnet_ids
  target_group_arns   = var.target_group_arns

  launch_template {
    id      = aws_launch_template.web.id
    version = "$Default"
  }

  # No instance_refresh block here: rolling_asg_release replaces the instances.

  lifecycle {
    # The release raises desired capacity during a surge batch and puts it back after (and
    # scaling policies change it too): the aws provider must not "correct" it meanwhile.
    ignore_changes = [desired_capacity]
  }
}

resource "rolling_asg_release" "web" {
  provider = immutable # the type name starts with "rolling_"

  autoscaling_group_name = aws_autoscaling_group.web.name
  image_id               = immutable_image.web.id
  launch_mode            = "external" # the launch template belongs to the aws provider

  batch_size      = "25%"
  strategy        = "surge"
  instance_warmup = "90s"

  # Replace instances only once the aws provider has moved the template to the new image.
  depends_on = [aws_launch_template.web]
}

output "image_id" {
  value = immutable_image.web.id
}

output "replaced_instances" {
  value = rolling_asg_release.web.replaced_instances
}
