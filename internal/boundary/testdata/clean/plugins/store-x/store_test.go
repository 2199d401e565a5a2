package store

import _ "github.com/pkid/pkid/core/pluginhost"
