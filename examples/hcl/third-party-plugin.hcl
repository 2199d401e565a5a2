# Registers the sample third-party plugin (examples/plugins/keystore-memory)
# and uses it as a keystore. Build and pin it with:
#
#   make example-plugin
#   pkid plugin register bin/pkid-plugin-memory   # prints the block below with its sha256
#
# Paste the printed sha256 in place of env(...) in production: the pin is what
# stops a replaced binary from running. pkid refuses to start the plugin when
# the binary's sha256 differs.

plugin "memory" {
  path   = "../../bin/pkid-plugin-memory" # relative to this file
  sha256 = env("PKID_MEMORY_PLUGIN_SHA256")
  env    = [] # host environment variables the plugin may see
}

keystore "memory" "scratch" {
  max_keys = 10
}
