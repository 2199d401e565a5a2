package pluginhost

import _ "github.com/pkid/pkid/sdk/rpc"
