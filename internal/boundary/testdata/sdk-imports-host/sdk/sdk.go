package sdk

import _ "github.com/pkid/pkid/sdk/rpc"
