package main

import _ "github.com/pkid/pkid/core/cli"

func main() {}
