terraform {
  required_providers {
    immutable = {
      source = "immutable-release/immutable"
    }
  }
}

provider "immutable" {
  region = "eu-west-1"

  assume_role {
    role_arn = "arn:aws:iam::123456789012:role/release"
  }

  default_tags {
    tags = { managed-by = "terraform" }
  }
}
