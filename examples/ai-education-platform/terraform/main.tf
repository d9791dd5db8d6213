# The runbook's `terraform plan -var="environment=prod" -var="openai_api_key=…"` configuration,
# scaled down: no Azure provider (no account and no provider download here), so each Azure
# resource of the runbook is a built-in `terraform_data` resource holding its name. The names and
# the outputs are the runbook's; replace a terraform_data block with its azurerm_* resource (and add
# the runbook's azurerm backend) to create the real thing.
terraform {
  required_version = ">= 1.4" # terraform_data
}

variable "environment" {
  type        = string
  description = "development, staging or production (the Slipway environment)"
}

variable "location" {
  type    = string
  default = "Korea Central"
}

variable "openai_api_key" {
  type      = string
  sensitive = true
}

locals {
  short   = { development = "dev", staging = "staging", production = "prod" }[var.environment]
  project = "ai-education-platform"
}

# az group create --name "rg-ai-education-platform-prod" --location "Korea Central"
resource "terraform_data" "resource_group" {
  input = { name = "rg-${local.project}-${local.short}", location = var.location }
}

# acraieducationplatformprod.azurecr.io
resource "terraform_data" "container_registry" {
  input = { name = "acraieducationplatform${local.short}", resource_group = terraform_data.resource_group.output.name }
}

# kv-ai-education-platform-prod, holding openai-api-key and azure-sql-connection. A new key
# replaces the secret (the plan says so: 1 to add, 1 to destroy).
resource "terraform_data" "key_vault" {
  input = { name = "kv-${local.project}-${local.short}", secrets = ["openai-api-key", "azure-sql-connection"] }
}
resource "terraform_data" "openai_api_key_secret" {
  input            = "openai-api-key"
  triggers_replace = sha256(var.openai_api_key)
}

# ai-education-platform-insights and law-ai-education-platform-prod (Azure Monitor).
resource "terraform_data" "monitoring" {
  input = {
    app_insights  = "${local.project}-insights"
    log_analytics = "law-${local.project}-${local.short}"
  }
}

output "resource_group" {
  value = terraform_data.resource_group.output.name
}
output "acr_login_server" {
  value = "${terraform_data.container_registry.output.name}.azurecr.io"
}
output "key_vault" {
  value = terraform_data.key_vault.output.name
}
output "log_analytics_workspace" {
  value = terraform_data.monitoring.output.log_analytics
}
