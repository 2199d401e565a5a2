// Package storecfssl is a certificate store on CFSSL's own certdb: the
// tables `certificates` and `ocsp_responses` exactly as CFSSL 1.6.5's
// migrations create them, on SQLite (driver "sqlite3" in CFSSL's
// db-config), PostgreSQL (driver "postgres") or MySQL/MariaDB (driver
// "mysql", through the same go-sql-driver/mysql DSN CFSSL uses). A CFSSL
// deployment and pkid can share one database: rows either writes are read
// by the other.
//
// The store never creates, migrates or alters a schema: the tables must
// exist (created by CFSSL's goose migrations) and a missing table or column
// is a configuration error. Columns are written as CFSSL writes them
// (decimal serial, hex AKI, PEM, "good"/"revoked", a zero revoked_at for a
// good certificate, DNS names in `sans`), so CFSSL's readers, which scan
// every column into non-null Go values, accept pkid's rows.
//
// pkid fields CFSSL has no column for (profile; subject and SANs when the
// certificate cannot be parsed to recover them) travel in the `metadata`
// JSON under the key "pkid"; docs/cfssl-certdb.md describes the mapping.
//
// The store keeps no documents (it is no sdk.DocStore): CFSSL's schema has
// no place for them, so features that need shared documents (ACME) refuse
// a cfssl certstore with sdk.ErrUnimplemented.
package storecfssl
