// Package audit is pkid's tamper-evident audit log: one JSON record per
// line, each holding the SHA-256 of the record before it, so that an
// edited, deleted or reordered record breaks the chain at a place Verify
// names. A dedicated Ed25519 key signs periodic checkpoints of the chain
// head: whoever rewrites the whole chain after an edit cannot sign a new
// checkpoint, and records after the last checkpoint are reported as an
// unverified tail.
//
// A record line is the JSON object of the record without its hash,
// followed by the hash as the last member:
//
//	{"seq":7,"time":"...","kind":"issuance","prev":"<hex>","data":{...},"hash":"<hex>"}
//
// hash is SHA-256 over the same line with `,"hash":"<hex>"` removed, byte
// for byte, so verifying needs no canonical re-encoding.
//
// Several processes may append to one file (the daemon and a keystore
// plugin process): each append holds an exclusive flock, reads the head
// again if the file grew, writes one line and fsyncs. A crash mid-write
// leaves at most one partial last line, which the next writer cuts and
// Verify reports as a torn write, not as tampering.
//
// docs/operations.md is the operator's guide.
package audit
