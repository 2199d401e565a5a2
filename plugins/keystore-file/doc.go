// Package keystorefile is pkid's builtin "file" keystore: private keys kept
// in a directory, one age-encrypted file per key.
//
// Layout of dir (0700):
//
//	keystore.identity.age  an age X25519 identity, encrypted with a scrypt
//	                       passphrase (the only scrypt per start-up)
//	<id>.key.age           one key, age-encrypted to that identity: a JSON
//	                       envelope holding the PKCS#8 DER (0600)
//
// All keys are decrypted into memory by Configure, so signing never touches
// the disk. Writes are atomic (temporary file, fsync, link or rename, fsync
// of the directory) and never replace an existing key.
package keystorefile
