# The configuration the pull-request workflow previews: bake an AMI for a code tag, then roll an
# existing Auto Scaling group onto it. A pull request that changes `tag` (here or in a .tfvars
# file) gets one comment listing what is baked and which instances go in which batch.
#
# In your repository this is your own Terraform (the workflow's TF_DIR points at it).

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
  default     = "v1.0.0"
}

variable "group" {
  description = "The existing Auto Scaling group to release onto the image."
  type        = string
  default     = "web"
}

variable "aws_endpoint" {
  description = "Endpoint of a local AWS emulator (the project's tests use moto); null for real AWS."
  type        = string
  default     = null
}

provider "immutable" {
  endpoint = var.aws_endpoint
}

resource "immutable_image" "web" {
  source_ami    = "ami-1e749f67"
  code_tag      = var.tag
  script_file   = "${path.module}/provision.sh"
  name_template = "web-{{tag}}-{{timestamp}}"
}

# The type name starts with "rolling_", so the provider must be named explicitly.
resource "rolling_asg_release" "web" {
  provider               = immutable
  autoscaling_group_name = var.group
  image_id               = immutable_image.web.id
  batch_size             = "25%"
  strategy               = "surge"
}
