// Package keystoresplit is pkid's builtin "split" keystore: a CA key that
// signs only while M of its N named custodians have delegated to the
// running keystore process.
//
// Each key is encrypted (AES-256-GCM) under a random data key; the data key
// is split with Shamir's scheme (github.com/hashicorp/vault/shamir) and
// each share is age-encrypted to its custodian (an X25519 recipient, a
// passphrase, or an EC key on the custodian's own PKCS#11 token, unsealed
// on the token by ECDH: token.go). The key file also holds a record of who holds which share,
// signed by the key itself, with a commitment to every share, so a wrong or
// tampered share is found and blamed on its custodian.
//
// A custodian delegates by decrypting their share locally and sealing it,
// with an expiry, a use count and a purpose, to the ephemeral X25519 key
// that the running keystore process publishes in its state directory; the
// sealed file is dropped into the state directory's inbox, which the
// keystore watches. The key is rebuilt only inside that process and only
// while M live delegations exist; it is wiped when they expire, run out of
// uses or are revoked. Without them Sign fails at once with sdk.ErrLocked.
//
// Layout of state_dir (0700):
//
//	keystore.lock     flock held by the process that runs the keystore
//	ephemeral.json    that process's ephemeral age recipient (public)
//	status.json       live delegations and recent refusals (no secrets)
//	keys/<id>.split.json  one key: signed record, encrypted key, sealed shares
//	inbox/            delegation (*.dlg), revocation (*.revoke) and
//	                  rotation (*.rotate) files; consumed when read
//	audit.jsonl       the default audit log (JSON lines)
//
// docs/keystore-split.md is the operator's guide.
package keystoresplit
