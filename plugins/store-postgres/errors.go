package storepostgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pkid/pkid/sdk"
)

// wrap prefixes err with the package and operation. Errors that mean the
// server is unreachable or went away also wrap sdk.ErrUnavailable, since
// the caller may retry them; errors of a done ctx stay context errors.
func wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() == nil && unavailable(err) {
		return fmt.Errorf("store-postgres: %s: %w: %w", op, sdk.ErrUnavailable, err)
	}
	return fmt.Errorf("store-postgres: %s: %w", op, err)
}

// unavailable reports whether err means the server cannot be reached or
// dropped the connection: a failed connect, a network error, a connection
// closed under a query, or a shutdown/connection-exception SQLSTATE.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection_exception
			pe.Code == "57P01", // admin_shutdown
			pe.Code == "57P02", // crash_shutdown
			pe.Code == "57P03", // cannot_connect_now (starting up, shutting down)
			pe.Code == "53300", // too_many_connections
			pe.Code == "53100", // disk_full: the write may succeed once space is freed
			pe.Code == "53200": // out_of_memory
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		pgconn.SafeToRetry(err), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNREFUSED):
		return true
	}
	return false
}

// staleConn reports whether err came from a pooled connection that died
// (server restarted) rather than from failing to connect: another pooled or
// new connection may work, so the operation is worth retrying at once.
func staleConn(err error) bool {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "53") {
		return false // the server answered: out of resources, not a dead connection
	}
	return unavailable(err) && !errors.As(err, &ce)
}

// retry runs fn until it succeeds, fails for another reason than a dead
// pooled connection, ctx is done, or s.attempts tries were made. Each dead
// connection is dropped by the pool, so after a server restart the tries
// work through the stale connections to a fresh one; while the server is
// down the first try fails to connect and retry returns at once. fn must be
// idempotent: a failed try may have committed.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	var err error
	for range s.attempts {
		if err = fn(); err == nil || ctx.Err() != nil || !staleConn(err) {
			return err
		}
	}
	return err
}

// invalid returns an ErrInvalidArgument error for op.
func invalid(op, format string, args ...any) error {
	return fmt.Errorf("store-postgres: %s: %s: %w", op, fmt.Sprintf(format, args...), sdk.ErrInvalidArgument)
}

// checkKey validates a serial/AKI pair and returns the canonical AKI.
func checkKey(op, serial, aki string) (string, error) {
	if strings.TrimSpace(serial) == "" {
		return "", invalid(op, "serial is required")
	}
	aki = sdk.NormalizeAKI(aki)
	if aki == "" {
		return "", invalid(op, "aki is required")
	}
	if !text(serial) || !text(aki) {
		return "", invalid(op, "serial and aki must be valid UTF-8 without NUL")
	}
	return aki, nil
}
