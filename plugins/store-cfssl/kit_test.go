package storecfssl

import (
	"encoding/json"
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			t.Run("InProcess", func(t *testing.T) {
				plugintest.TestCertStore(t, func(t *testing.T) sdk.CertStore { return openTest(t, b.newDB(t)) })
			})
			t.Run("GRPC", func(t *testing.T) {
				if testing.Short() {
					t.Skip("short")
				}
				plugintest.TestCertStore(t, func(t *testing.T) sdk.CertStore {
					c := plugintest.ServeGRPC(t, New())
					plugintest.Configure(t, c, sdk.KindCertStore, "main", blockJSON(b.newDB(t)))
					return c.CertStore("main")
				})
			})
		})
	}
}

func TestPluginKit(t *testing.T) {
	plugintest.TestPlugin(t, New(), plugintest.PluginConfigs{
		Kind:  sdk.KindCertStore,
		Valid: json.RawMessage(`{"db_config":null,"driver":"postgres","data_source":"postgres://cfssl@db.example.test/certdb","read_only":false,"unlabelled_ca":"issuing","timeout":"5s"}`),
		Invalid: []plugintest.InvalidConfig{
			{Name: "nothing", JSON: json.RawMessage(`{"db_config":null,"driver":null,"data_source":null,"read_only":null,"timeout":null}`), Path: []string{"db_config"}},
			{Name: "both", JSON: json.RawMessage(`{"db_config":"db.json","driver":"sqlite3","data_source":"x.db","read_only":null,"timeout":null}`), Path: []string{"db_config"}},
			{Name: "unknown driver", JSON: json.RawMessage(`{"db_config":null,"driver":"oracle","data_source":"x","read_only":null,"timeout":null}`), Path: []string{"driver"}},
			{Name: "mysql bad DSN", JSON: json.RawMessage(`{"db_config":null,"driver":"mysql","data_source":"u:pw@tcp(h/db","read_only":null,"timeout":null}`), Path: []string{"data_source"}},
			{Name: "mysql no database", JSON: json.RawMessage(`{"db_config":null,"driver":"mysql","data_source":"u:pw@tcp(h:3306)/","read_only":null,"timeout":null}`), Path: []string{"data_source"}},
			{Name: "no data_source", JSON: json.RawMessage(`{"db_config":null,"driver":"sqlite3","data_source":null,"read_only":null,"timeout":null}`), Path: []string{"data_source"}},
			{Name: "memory", JSON: json.RawMessage(`{"db_config":null,"driver":"sqlite3","data_source":":memory:","read_only":null,"timeout":null}`), Path: []string{"data_source"}},
			{Name: "bad dsn", JSON: json.RawMessage(`{"db_config":null,"driver":"postgres","data_source":"postgres://h:notaport/db","read_only":null,"timeout":null}`), Path: []string{"data_source"}},
			{Name: "bad timeout", JSON: json.RawMessage(`{"db_config":null,"driver":"sqlite3","data_source":"x.db","read_only":null,"timeout":"soon"}`), Path: []string{"timeout"}},
		},
	})
}
