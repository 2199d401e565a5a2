// Command pkid-plugin-memory is a sample third-party pkid plugin: a keystore
// that keeps keys in memory only (they vanish when the process exits). It is
// built against github.com/pkid/pkid/sdk alone and shows the whole surface a
// plugin author touches: Info, a schema, validation, instances, the
// KeyStore interface and a plugin CLI command.
//
// Register it with:  pkid plugin register ./pkid-plugin-memory
package main

import (
	"os"

	"github.com/pkid/pkid/sdk"
)

func main() { os.Exit(sdk.Main(New())) }
