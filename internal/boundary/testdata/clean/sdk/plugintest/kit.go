package plugintest

import (
	_ "github.com/pkid/pkid/sdk"
	_ "github.com/pkid/pkid/sdk/rpc"
)
