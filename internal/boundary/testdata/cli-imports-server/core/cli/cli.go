package cli

import _ "github.com/pkid/pkid/core/server"
