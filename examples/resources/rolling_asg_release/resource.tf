resource "immutable_image" "web" {
  source_ami = "ami-0123456789abcdef0"
  code_tag   = var.tag
  script     = file("${path.module}/provision.sh")
}

resource "rolling_asg_release" "web" {
  provider = immutable

  autoscaling_group_name = "web"
  image_id               = immutable_image.web.id

  batch_size      = "25%"
  strategy        = "surge"
  instance_warmup = "90s"
  checkpoints     = [25] # stop after the first quarter; the next apply promotes
}
