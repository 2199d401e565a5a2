package cli

import (
	_ "github.com/pkid/pkid/core/catalog"
	_ "github.com/pkid/pkid/core/daemon"
)
