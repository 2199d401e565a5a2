package cli

import (
	"github.com/pkid/pkid/core/config"
	coredaemon "github.com/pkid/pkid/core/daemon"
)

// crlDir is where a daemon publishes CRLs: offline revocations refresh
// the CRLs found there (refreshPublishedCRLs).
func crlDir(cfg *config.Config) string { return coredaemon.CRLDir(cfg) }
