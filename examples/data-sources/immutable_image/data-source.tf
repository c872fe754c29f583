data "immutable_image" "web" {
  tags     = { app = "web" } # the tags immutable_image.web was given
  code_tag = var.tag         # omit to follow the newest bake
}

output "web_image_id" {
  value = data.immutable_image.web.id
}
