plugin "example" {
  path = "plugins/pkid-plugin-example"
}

plugin "other" {
  path   = "/opt/pkid/plugins/pkid-plugin-other"
  sha256 = "ABC123"
}
