package server

import _ "github.com/pkid/pkid/plugins/store-x"
