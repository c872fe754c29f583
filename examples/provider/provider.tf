terraform {
  required_providers {
    immutable = {
      source = "immutable-release/immutable"
    }
  }
}

provider "immutable" {
  region              = "eu-west-1"
  allowed_account_ids = ["123456789012"] # refuse to run with credentials of any other account

  assume_role {
    role_arn     = "arn:aws:iam::123456789012:role/release"
    session_name = "terraform-release"
    duration     = "2h" # long enough for a slow rolling release
  }

  default_tags {
    tags = { managed-by = "terraform" }
  }
}
