package daemon

import _ "github.com/pkid/pkid/core/server"
