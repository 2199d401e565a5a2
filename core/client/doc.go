// Package client talks to a CFSSL-compatible CA over its HTTP API
// (spec cfssl-compat §3.15): plain sign, authsign (§4), and info. A client
// holds an ordered list of remotes and fails over to the next one on
// connection errors and 5xx replies, never on 4xx.
package client
