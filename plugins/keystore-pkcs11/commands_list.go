package keystorepkcs11

import "github.com/pkid/pkid/sdk"

// Commands lists the plugin's CLI subcommands (`pkid keystore pkcs11 NAME`).
// Each takes -keystore INSTANCE, needed only when several pkcs11 keystores
// are configured; slots also takes -module PATH to work without one.
func (*plugin) Commands() []sdk.Command {
	k := sdk.KindKeyStore
	return []sdk.Command{
		{Kind: k, Name: "slots", Synopsis: "list the module's slots and tokens",
			Help: "slots [-keystore NAME | -module PATH]\nPrints slot, token label, serial, manufacturer, model, one per line, tab-separated."},
		{Kind: k, Name: "list", Synopsis: "list the keys on the token",
			Help: "list [-keystore NAME]\nPrints id, algorithm and pkcs11 URI of each key, tab-separated."},
		{Kind: k, Name: "generate", Synopsis: "generate a key pair on the token",
			Help: "generate [-keystore NAME] ID ALGORITHM\nALGORITHM is one of rsa-2048, rsa-3072, rsa-4096, ecdsa-p256, ecdsa-p384, ecdsa-p521, ed25519.\nPrints id, algorithm and pkcs11 URI, tab-separated."},
		{Kind: k, Name: "public", Synopsis: "print a key's public key as PEM",
			Help: "public [-keystore NAME] ID\nID is a key label or a pkcs11: URI."},
		{Kind: k, Name: "test-sign", Synopsis: "sign a test digest with a key and verify it",
			Help: "test-sign [-keystore NAME] ID\nPrints id, algorithm, \"ok\" and the signing time, tab-separated."},
	}
}
