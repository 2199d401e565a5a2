package keystorefile

import (
	"context"
	"fmt"

	"github.com/pkid/pkid/sdk"
)

// Version is the plugin's semantic version.
const Version = "0.1.0"

type plugin struct{}

// New returns the "file" keystore plugin. Its instances implement
// sdk.KeyStore.
func New() sdk.Plugin { return plugin{} }

// Info describes the plugin build.
func (plugin) Info() sdk.Info {
	return sdk.Info{
		Name:        "file",
		Version:     Version,
		Kinds:       []string{sdk.KindKeyStore},
		Description: "private keys in a directory, one age-encrypted file per key",
	}
}

// Schema returns the keystore block's schema, or nil for any other kind.
func (plugin) Schema(kind string) *sdk.Schema {
	if kind != sdk.KindKeyStore {
		return nil
	}
	return sdk.NewSchema().
		String("dir", sdk.Required, "directory holding the encrypted key files; created 0700 if missing").
		String("passphrase", sdk.Optional|sdk.Sensitive, "passphrase protecting the keys; set this or passphrase_file").
		String("passphrase_file", sdk.Optional, "file whose content (one trailing newline removed) is the passphrase; set this or passphrase").
		Number("kdf_work_factor", sdk.Optional, fmt.Sprintf("scrypt work factor (log2 N, %d-%d) used when the directory is first initialised; lower only for tests", minWorkFactor, maxWorkFactor)).
		Default(fmt.Sprint(defaultWorkFactor)).
		Bool("insecure_permissions", sdk.Optional, "start even when group or others can access passphrase_file or the key directory (pkid serve -dev sets it); leave unset in production").
		Default("false")
}

// ValidateConfig checks the block without touching the file system.
func (plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, diags := decodeConfig(cfg)
	return diags
}

// Configure opens (or initialises) the key directory and loads every key.
// Errors: *sdk.DiagnosticsError for a bad configuration; an error wrapping
// sdk.ErrFailedPrecondition when group or others can access the
// passphrase_file or the key directory (unless insecure_permissions); an error wrapping
// sdk.ErrUnauthenticated when the passphrase is wrong; other errors for an
// unreadable or corrupt directory.
func (plugin) Configure(ctx context.Context, cfg sdk.Config) (sdk.Instance, error) {
	c, diags := decodeConfig(cfg)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	if !c.Insecure {
		if err := checkPermissions(c); err != nil {
			return nil, err
		}
	}
	pass, err := c.readPassphrase()
	if err != nil {
		return nil, err
	}
	return open(ctx, c.Dir, pass, c.WorkFactor)
}
