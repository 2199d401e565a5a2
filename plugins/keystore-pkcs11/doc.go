// Package keystorepkcs11 is pkid's builtin "pkcs11" keystore: private keys
// generated and kept on a PKCS#11 token (an HSM, a smart card, SoftHSM2),
// used through github.com/miekg/pkcs11.
//
// Keys are generated on the token as CKA_TOKEN, CKA_SENSITIVE,
// non-CKA_EXTRACTABLE objects; their CKA_LABEL is the key id and CKA_ID its
// bytes. A key may also be named by an RFC 7512 URI such as
// "pkcs11:token=pkid;object=issuing-2026;type=private". Signing hashes in
// pkid and sends the token only the digest: raw CKM_ECDSA (the r||s result is
// returned ASN.1 DER encoded), CKM_RSA_PKCS over a DigestInfo, CKM_RSA_PKCS_PSS,
// and CKM_EDDSA for Ed25519 where the token has it.
//
// The PIN comes from pin_file, from the environment variable named by
// pin_env (an out-of-process plugin sees only allow-listed variables, so
// allow-list it, e.g. PKID_HSM_PIN), or from pin. pin is refused unless
// allow_literal_pin = true, because a literal PIN in a file is a leak;
// set that flag when pin = env("...") is evaluated by the core.
//
// Sessions come from a pool (max_sessions, default 2×GOMAXPROCS). A session
// idle for a while is checked before use, and an operation that fails
// because the session is invalid or closed, the user is logged out, or the
// device reported an error is retried once on a freshly opened and logged-in
// session, so a token that was idle or restarted does not need a pkid
// restart.
//
// Builds without cgo, or with -tags nopkcs11, contain a stub whose
// instances explain how to get PKCS#11 support.
package keystorepkcs11
