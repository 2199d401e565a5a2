package csr

import _ "github.com/pkid/pkid/core/cli"
