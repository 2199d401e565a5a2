package boundary

// Module is the root module's path.
const Module = "github.com/pkid/pkid"

// Rules are pkid's import rules; docs/architecture.md ("What never imports
// what") gives the reasons at length.
var Rules = []Rule{
	{
		Name:       "sdk-no-core",
		Why:        "the sdk module is built by third parties without the root module (GOWORK=off)",
		From:       []string{"sdk/..."},
		Deny:       []string{Module + "/core/...", Module + "/plugins/..."},
		Transitive: true,
	},
	{
		Name: "sdk-author-no-host",
		Why:  "plugin authors import sdk alone; the gRPC host side lives in sdk/rpc",
		From: []string{"sdk"},
		// sdk/rpc may not exist yet; the rule holds the moment it does.
		Deny:       []string{Module + "/sdk/rpc/..."},
		Transitive: true,
	},
	{
		Name:       "plugins-no-core",
		Why:        "a plugin talks to the core only over the plugin protocol",
		From:       []string{"plugins/...", "examples/plugins/..."},
		Deny:       []string{Module + "/core/..."},
		Transitive: true,
	},
	{
		Name: "core-no-pgx",
		Why:  "a database is its store plugin's business (store-postgres, store-sqlite, store-cfssl); the core reaches stores through the sdk",
		From: []string{"core/..."},
		Deny: []string{"github.com/jackc/pgx/...", "modernc.org/sqlite/...", "github.com/go-sql-driver/mysql/...", "database/sql/..."},
	},
	{
		Name:   "core-no-plugins",
		Why:    "only the builtin registry knows the builtin plugins; everything else goes through it",
		From:   []string{"core/..."},
		Except: []string{"core/catalog"},
		Deny:   []string{Module + "/plugins/..."},
	},
	{
		Name: "ca-no-http",
		Why:  "certificate and CRL building stay free of transport and of the layers above them",
		From: []string{"core/ca/..."},
		Deny: []string{"net/http/...", Module + "/core/cli/...", Module + "/core/server/..."},
	},
	{
		Name: "cli-no-server",
		Why:  "the CLI parses flags around core/daemon, core/client and the authority; the API handlers are the daemon's to mount",
		From: []string{"core/cli"},
		Deny: []string{Module + "/core/server"},
	},
}
