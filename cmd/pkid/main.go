// Command pkid is the PKI toolkit and CA daemon.
package main

import (
	"os"

	"github.com/pkid/pkid/core/cli"
)

func main() { os.Exit(cli.Run(os.Args[1:])) }
