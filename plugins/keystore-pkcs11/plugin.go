package keystorepkcs11

import (
	"context"

	"github.com/pkid/pkid/sdk"
)

// Version is the plugin's semantic version.
const Version = "0.1.0"

// plugin holds the configured instances so that CLI commands can use them.
type plugin struct {
	reg registry
}

// New returns the "pkcs11" keystore plugin. Its instances implement
// sdk.KeyStore; the plugin implements sdk.Commander.
func New() sdk.Plugin { return &plugin{} }

var _ sdk.Commander = (*plugin)(nil)

// Info describes the plugin build.
func (*plugin) Info() sdk.Info {
	return sdk.Info{
		Name:        "pkcs11",
		Version:     Version,
		Kinds:       []string{sdk.KindKeyStore},
		Description: "private keys generated and kept on a PKCS#11 token (HSM)",
	}
}

// Schema returns the keystore block's schema, or nil for any other kind.
func (*plugin) Schema(kind string) *sdk.Schema {
	if kind != sdk.KindKeyStore {
		return nil
	}
	return sdk.NewSchema().
		String("module", sdk.Required, "path of the PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so").
		String("token_label", sdk.Optional, "label of the token to use; set exactly one of token_label, token_serial and slot").
		String("token_serial", sdk.Optional, "serial number of the token to use").
		Number("slot", sdk.Optional, "slot ID of the token to use").
		String("pin", sdk.Optional|sdk.Sensitive, "user PIN; accepted only with allow_literal_pin = true (e.g. for pin = env(\"PKID_HSM_PIN\")); prefer pin_file or pin_env").
		String("pin_env", sdk.Optional, "name of an environment variable of the plugin process holding the PIN (allow-list it for out-of-process plugins)").
		String("pin_file", sdk.Optional, "file whose content (one trailing newline removed) is the PIN").
		Bool("allow_literal_pin", sdk.Optional, "allow the pin attribute").Default("false").
		Number("max_sessions", sdk.Optional, "size of the session pool (1-1024); default 2 × GOMAXPROCS of the plugin process").
		StringList("algorithms", sdk.Optional, "key algorithms the token must support (e.g. [\"ecdsa-p256\", \"ed25519\"]); start-up fails naming a missing mechanism")
}

// ValidateConfig checks the block. Beyond decoding it only looks at the
// file system and environment (module and pin_file exist, pin_env is set);
// it never loads the module.
func (*plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	c, diags := decodeConfig(cfg)
	if c != nil {
		diags = append(diags, c.checkEnvironment()...)
	}
	return diags
}

// Configure loads the module, finds the token, opens the session pool and
// logs in. Errors: *sdk.DiagnosticsError for a bad configuration; an error
// wrapping sdk.ErrUnauthenticated for a wrong or locked PIN; sdk.ErrNotFound
// for an unknown token (naming the tokens present); sdk.ErrUnimplemented for
// a module that cannot be loaded or a token lacking a required mechanism
// (and always in builds without PKCS#11 support).
func (p *plugin) Configure(ctx context.Context, cfg sdk.Config) (sdk.Instance, error) {
	c, diags := decodeConfig(cfg)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	return p.configure(ctx, cfg.Instance, c)
}
