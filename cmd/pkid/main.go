// Command pkid is the PKI toolkit and CA daemon. Started under the name of
// a CFSSL binary (a symlink named cfssl, cfssljson, multirootca, ...) it
// behaves as that binary.
package main

import (
	"os"

	"github.com/pkid/pkid/core/cli"
)

func main() { os.Exit(cli.RunAs(os.Args[0], os.Args[1:])) }
