// Package config loads pkid's HCL configuration.
//
// A configuration is one or more files in HCL native syntax (.hcl) or HCL's
// JSON syntax (.hcl.json, .json); a directory stands for all *.hcl and
// *.hcl.json files in it, merged like Terraform merges a module. Load parses
// and decodes the core's own blocks (pkid, keystore, certstore, plugin, ca),
// checks names and references, and keeps the parsed files so every later
// diagnostic can be rendered with file:line:col and a source snippet.
//
// Plugin instance bodies are kept undecoded: the caller asks each plugin for
// its sdk.Schema and calls DecodePluginBody, which yields the JSON the plugin
// receives. Profile bodies are likewise kept raw for the profile decoder.
package config
