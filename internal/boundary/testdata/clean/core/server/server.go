package server

import (
	_ "github.com/pkid/pkid/core/ca"
	_ "net/http"
)
