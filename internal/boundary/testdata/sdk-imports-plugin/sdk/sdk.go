package sdk

import _ "github.com/pkid/pkid/plugins/store-x"
