package storecfssl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// CFSSL's db-config driver names.
const (
	DriverSQLite   = "sqlite3"
	DriverPostgres = "postgres"
	DriverMySQL    = "mysql"
)

// maxDBConfig bounds a db-config file: it holds two short strings.
const maxDBConfig = 64 << 10

// DBConfig is CFSSL's certdb configuration file ({"driver", "data_source"}).
type DBConfig struct {
	Driver     string `json:"driver"`
	DataSource string `json:"data_source"`
}

// ReadDBConfig reads and checks a CFSSL db-config file. Errors name the
// file and what is wrong with it (unreadable, not JSON, a missing field, a
// driver other than sqlite3, postgres and mysql).
func ReadDBConfig(path string) (DBConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return DBConfig{}, fmt.Errorf("db-config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDBConfig+1))
	if err != nil {
		return DBConfig{}, fmt.Errorf("db-config %s: %w", path, err)
	}
	if len(data) > maxDBConfig {
		return DBConfig{}, fmt.Errorf("db-config %s: larger than %d bytes", path, maxDBConfig)
	}
	c, err := ParseDBConfig(data)
	if err != nil {
		return DBConfig{}, fmt.Errorf("db-config %s: %w", path, err)
	}
	return c, nil
}

// ParseDBConfig decodes a db-config document and checks it (Check).
func ParseDBConfig(data []byte) (DBConfig, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return DBConfig{}, fmt.Errorf("not JSON (offset %d: %v)", se.Offset, se)
		}
		return DBConfig{}, errors.New("not JSON")
	}
	var c DBConfig
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&c); err != nil {
		return DBConfig{}, fmt.Errorf("not a db-config object: %v", err)
	}
	return c, c.Check()
}

// Check reports a missing field or an unsupported driver.
func (c DBConfig) Check() error {
	switch {
	case c.Driver == "":
		return errors.New(`"driver" is missing (want "sqlite3", "postgres" or "mysql")`)
	case c.Driver != DriverSQLite && c.Driver != DriverPostgres && c.Driver != DriverMySQL:
		return fmt.Errorf(`unknown driver %q (want "sqlite3", "postgres" or "mysql")`, c.Driver)
	case c.DataSource == "":
		return errors.New(`"data_source" is missing`)
	}
	return nil
}
