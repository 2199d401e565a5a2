// Package storepostgres is pkid's shared certificate store: a CertStore on
// PostgreSQL (github.com/jackc/pgx/v5, pooled) for several pkid nodes behind
// one database.
//
// The schema is typed (TIMESTAMPTZ validity, TEXT[] SANs, JSONB metadata,
// BYTEA DER) and indexed for the inventory queries. Migrations are embedded
// and applied at Configure in one transaction holding an advisory lock, so
// nodes starting together never race. PutBatch sends a whole batch as one
// pipelined round trip that PostgreSQL runs as one transaction (one WAL
// flush) for the host's group-commit writer.
//
// Connection failures (server down or restarting, admin shutdown) are
// returned wrapping sdk.ErrUnavailable, after at most the connect timeout;
// the pool reconnects by itself when the server is back. A Put that returns
// an error may or may not have been stored, and a Put that returns nil has
// been committed: the host never hands out a certificate it did not store.
package storepostgres
