package keystore

import (
	_ "github.com/pkid/pkid/core/pluginhost"
	_ "github.com/pkid/pkid/sdk"
)
