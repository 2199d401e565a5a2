package wire

import _ "github.com/pkid/pkid/core/config"
