//go:build tools

// Package sunlight pins the Sunlight release that internal/ctlogtest
// builds (go build -mod=mod filippo.io/sunlight/cmd/sunlight here).
package sunlight

import _ "filippo.io/sunlight/cmd/sunlight"
