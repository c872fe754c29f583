resource "immutable_image" "web" {
  source_ami_filter {
    owners = ["099720109477"]
    name   = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"
  }

  code_tag             = var.tag
  script_file          = "${path.module}/provision.sh"
  iam_instance_profile = "ssm-builder"
  subnet_id            = "subnet-0123456789abcdef0"
  name_template        = "web-{{tag}}-{{timestamp}}"

  environment = {
    APP_REPO = "https://github.com/acme/web.git"
  }

  tags = {
    app = "web"
  }

  timeouts {
    create = "60m"
  }
}
