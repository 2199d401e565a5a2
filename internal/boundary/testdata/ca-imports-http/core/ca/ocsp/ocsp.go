package ocsp

import _ "github.com/pkid/pkid/core/server"
