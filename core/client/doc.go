// Package client talks to a CFSSL-compatible CA over its HTTP API
// (cfssl's -remote): plain sign, authsign, and info. A client
// holds an ordered list of remotes and fails over to the next one on
// connection errors and 5xx replies, never on 4xx.
package client
