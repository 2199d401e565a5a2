// Package trustfiles is pkid's builtin "files" trust source: roots and
// intermediates read from PEM or DER files and directories (CFSSL's
// ca-bundle and int-bundle among them), CFSSL's platform-metadata JSON, and
// optionally the operating system's root store.
//
// Configure reads and checks everything once: a file that does not parse is
// a diagnostic naming the file and the reason, so the bundler never sees a
// broken certificate. Watch polls the modification times of every configured
// file and directory (a CI job may rewrite a directory at any time); when
// they change the source reloads, and only a reload that parses cleanly
// replaces what Certificates lists and notifies the watchers.
package trustfiles
