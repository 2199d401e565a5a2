package config

import "github.com/hashicorp/hcl/v2"

// Config is a loaded configuration: the merged content of all files.
// Zero values mean "not set"; the caller applies defaults.
type Config struct {
	Pkid       PkidBlock
	KeyStores  []*PluginBlock
	CertStores []*PluginBlock
	Plugins    []*ExternalPlugin
	CAs        []*CA
	// Files holds every parsed file by name, for rendering diagnostics.
	Files map[string]*hcl.File
}

// PkidBlock is the daemon's own settings (the optional pkid block).
type PkidBlock struct {
	StateDir string
	Listen   string
	LogLevel string
	// TLS for the daemon's listener (empty: plain HTTP on loopback).
	TLS TLSBlock
	// AuthKeys are HMAC keys (hex in the configuration) named by profiles'
	// auth_key; "revoke" authorises the revoke endpoint.
	AuthKeys map[string]AuthKey
	// ClientCertPolicy maps an endpoint (or "*") to the client certificate
	// CN patterns allowed to call it.
	ClientCertPolicy map[string][]string
	MaxBodyBytes     int64
	// DefRange is the block header's range; zero if there is no pkid block.
	DefRange hcl.Range
}

// TLSBlock is the pkid block's tls block.
type TLSBlock struct {
	Cert, Key, ClientCA, MinVersion string
	DefRange                        hcl.Range
}

// AuthKey is an HMAC key for authenticated endpoints.
type AuthKey struct {
	Key      []byte
	DefRange hcl.Range
}

// Plugin instance kinds, as the block type names.
const (
	KindKeyStore  = "keystore"
	KindCertStore = "certstore"
)

// Isolation modes of a plugin instance.
const (
	IsolationProcess   = "process"
	IsolationInProcess = "inprocess"
)

// PluginBlock is one plugin instance: keystore "TYPE" "NAME" { ... } or
// certstore "TYPE" "NAME" { ... }.
type PluginBlock struct {
	Kind      string // KindKeyStore or KindCertStore
	Type      string // plugin type label
	Name      string // instance name label
	Isolation string // "", IsolationProcess or IsolationInProcess (checked by CheckTypes)
	// Body is the block body without the core's meta-attributes; decode it
	// with DecodePluginBody.
	Body                           hcl.Body
	DefRange, TypeRange, NameRange hcl.Range
	// EvalContext is the functions of the file the block is in.
	EvalContext *hcl.EvalContext

	isolationRange hcl.Range // range of the isolation value, if set
}

// ExternalPlugin is a third-party plugin binary: plugin "TYPE" { ... }.
type ExternalPlugin struct {
	Type string
	// Path is the binary; a relative path is resolved against the directory
	// of the file declaring it.
	Path   string
	SHA256 string   // lowercase hex digest the binary must have
	Env    []string // names of host environment variables passed through
	Args   []string
	// DefRange is the block header's range.
	DefRange hcl.Range
}

// CA is a certificate authority: ca "NAME" { ... }.
type CA struct {
	Name        string
	KeyStore    string // name of a declared keystore instance
	Key         string
	Certificate string
	Chain       string
	CertStore   string // name of a declared certstore instance, or ""

	KeyStoreRange, CertStoreRange, DefRange hcl.Range
	Profiles                                []*Profile
}

// Profile is a signing profile of a CA; Body is decoded elsewhere.
type Profile struct {
	Name     string
	Body     hcl.Body
	DefRange hcl.Range
	// EvalContext evaluates the body's expressions (env(), file(), ...).
	EvalContext *hcl.EvalContext
}
