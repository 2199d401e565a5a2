package ca

import (
	_ "github.com/pkid/pkid/sdk"
	_ "net/url"
)
