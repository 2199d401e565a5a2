package cfg

import _ "github.com/pkid/pkid/core/config"
