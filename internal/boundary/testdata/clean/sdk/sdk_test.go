package sdk_test

import _ "github.com/pkid/pkid/core/config"
