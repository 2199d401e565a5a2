package store

import (
	_ "github.com/jackc/pgx/v5"
	_ "github.com/pkid/pkid/internal/migrations"
	_ "github.com/pkid/pkid/sdk"
)
