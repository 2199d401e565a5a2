package sdk

import "github.com/pkid/pkid/sdk/internal/wire"

// Sentinel errors. Plugins wrap them (fmt.Errorf("...: %w", sdk.ErrNotFound));
// they cross the gRPC boundary as status codes and come back as the same
// sentinels, so errors.Is works on the host whether a plugin runs in process
// or out of process.
var (
	// ErrNotFound: the key, certificate or instance does not exist.
	ErrNotFound = wire.ErrNotFound
	// ErrAlreadyExists: a different object already has that identity.
	ErrAlreadyExists = wire.ErrAlreadyExists
	// ErrInvalidArgument: the request is malformed (bad algorithm, bad id, ...).
	ErrInvalidArgument = wire.ErrInvalidArgument
	// ErrFailedPrecondition: the request conflicts with current state
	// (e.g. already revoked with another reason).
	ErrFailedPrecondition = wire.ErrFailedPrecondition
	// ErrUnauthenticated: a passphrase, PIN or credential is wrong.
	ErrUnauthenticated = wire.ErrUnauthenticated
	// ErrUnimplemented: the plugin lacks that capability.
	ErrUnimplemented = wire.ErrUnimplemented
	// ErrUnavailable: the plugin or its backend is temporarily unreachable
	// (process restarting, database down). The call may be retried. Wrap
	// it once: the host adds no second "unavailable" to the text.
	ErrUnavailable = wire.ErrUnavailable
	// ErrLocked: the keystore holds the key but may not use it yet (e.g. a
	// split-key keystore without enough delegations). Not a fault: health
	// shows the keystore as "locked", and the call may succeed once it is
	// unlocked. Carried as gRPC PermissionDenied.
	ErrLocked = wire.ErrLocked
	// ErrHeld: another holder has the lease (Leaser.Lease); not a fault,
	// try again later. Carried as gRPC Aborted.
	ErrHeld = wire.ErrHeld
)
