package rpc

import _ "github.com/pkid/pkid/sdk"
