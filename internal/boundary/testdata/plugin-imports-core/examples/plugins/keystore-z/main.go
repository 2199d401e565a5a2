package main

import _ "example.com/keystore-z/internal/cfg"

func main() {}
