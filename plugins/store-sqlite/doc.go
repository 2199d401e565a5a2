// Package storesqlite is pkid's embedded certificate store: a CertStore on a
// single SQLite file (pure Go, modernc.org/sqlite) for one-node deployments.
//
// Writes go through one connection in WAL mode with synchronous=FULL, so a
// record is on disk before Put returns ("record before return"); reads use a
// separate pool and never wait behind the writer. PutBatch commits many
// records in one transaction (one fsync) for the host's group-commit writer.
package storesqlite
