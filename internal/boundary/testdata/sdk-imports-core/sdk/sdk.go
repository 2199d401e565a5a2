package sdk

import _ "github.com/pkid/pkid/sdk/internal/wire"
