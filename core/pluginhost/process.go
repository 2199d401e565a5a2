package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

type instKey struct{ kind, name string }

// Process is one supervised plugin process.
//
// Supervision has one owner: after the first launch, only the watch
// goroutine starts processes, one restart at a time. Failing calls only
// nudge it (a non-blocking send carrying the generation they saw), so a
// burst of failures cannot start competing restarts, close a ready channel
// twice, or kill a process that was just started.
type Process struct {
	h    *Host
	spec Spec
	log  hclog.Logger

	// nudge asks the watcher to look now; it carries the generation the
	// failing call used, so a nudge about an already replaced process is
	// ignored.
	nudge chan uint64

	mu         sync.Mutex
	started    bool
	stopped    bool
	gen        uint64 // generation of client and conn: one per launch
	client     *plugin.Client
	conn       *rpc.Client
	ready      chan struct{} // closed once, when this generation's conn is published
	restarting bool
	lastErr    error // why the last start failed; nil once running
	restarts   int
	configs    map[instKey]sdk.Config // replayed after a restart
	stopCh     chan struct{}
}

// Spec returns the process's spec.
func (p *Process) Spec() Spec { return p.spec }

// Name is the process's part name in health reports and errors, e.g.
// "plugin.keystore.file".
func (p *Process) Name() string { return "plugin." + p.spec.Kind + "." + p.spec.Type }

// Pid returns the plugin process id, or 0.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		return 0
	}
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Restarts returns how often the process was restarted.
func (p *Process) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Process states reported by Status.
const (
	StateStarting   = "starting"
	StateRunning    = "running"
	StateRestarting = "restarting"
	StateStopped    = "stopped"
)

// ProcessStatus is a snapshot of a supervised process.
type ProcessStatus struct {
	State     string // StateRunning, StateRestarting, StateStarting or StateStopped
	LastError string // why the last start failed; "" while running
	Restarts  int
	Pid       int
}

// Status reports whether the process serves. A process that exited but
// is not yet noticed by the watcher already counts as restarting.
func (p *Process) Status() ProcessStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := ProcessStatus{Restarts: p.restarts}
	if p.lastErr != nil {
		st.LastError = p.lastErr.Error()
	}
	switch {
	case p.stopped:
		st.State = StateStopped
	case !p.started:
		st.State = StateStarting
	case p.conn == nil || p.client == nil || p.client.Exited():
		st.State = StateRestarting
		if !p.restarting && p.client == nil {
			st.State = StateStarting
		}
	default:
		st.State = StateRunning
		if rc := p.client.ReattachConfig(); rc != nil {
			st.Pid = rc.Pid
		}
	}
	return st
}

// Check is a health probe: nil while the process serves, else an error
// wrapping sdk.ErrUnavailable that says why (the last start failure).
func (p *Process) Check(context.Context) error {
	st := p.Status()
	if st.State == StateRunning {
		return nil
	}
	msg := fmt.Sprintf("%s is %s", p.spec, st.State)
	if st.LastError != "" {
		msg += ": " + st.LastError
	}
	return rpc.Unavailable(msg)
}

func (p *Process) ensureStarted() error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return nil
	}
	p.started = true
	p.ready = make(chan struct{})
	p.stopCh = make(chan struct{})
	p.mu.Unlock()
	// The first launch runs here, before the watcher exists: it is the only
	// launch not made by the watcher.
	if err := p.launch(); err != nil {
		p.mu.Lock()
		p.started = false
		p.lastErr = err
		p.mu.Unlock()
		return err
	}
	go p.watch()
	return nil
}

// launch starts the process and configures the known instances; on success
// it publishes the connection as a new generation. Only ensureStarted (once)
// and the watcher call it, never concurrently.
func (p *Process) launch() error {
	cmd, secure, err := p.h.command(p.spec)
	if err != nil {
		return err
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  rpc.Handshake,
		VersionedPlugins: rpc.VersionedPlugins(nil),
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		Logger:           p.log,
		StartTimeout:     30 * time.Second,
	})
	proto, err := client.Client()
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return fmt.Errorf("%s: %w", p.spec, ErrChecksum)
		}
		return fmt.Errorf("starting %s: %w", p.spec, err)
	}
	raw, err := proto.Dispense(rpc.PluginName)
	if err != nil {
		client.Kill()
		return fmt.Errorf("starting %s: %w", p.spec, err)
	}
	conn := raw.(*rpc.Client)
	p.mu.Lock()
	configs := make(map[instKey]sdk.Config, len(p.configs))
	for k, v := range p.configs {
		configs[k] = v
	}
	p.mu.Unlock()
	for k, cfg := range configs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := conn.Configure(ctx, cfg)
		cancel()
		if err != nil {
			conn.Close()
			client.Kill()
			return fmt.Errorf("reconfiguring %s instance %q after restart: %w", k.kind, k.name, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		conn.Close()
		client.Kill()
		return errors.New("plugin host closed")
	}
	p.client, p.conn = client, conn
	p.gen++
	p.restarting, p.lastErr = false, nil
	close(p.ready)
	return nil
}

// watch is the process's supervisor: it restarts the process whenever it
// exits, noticed by polling or on a nudge from a failing call.
func (p *Process) watch() {
	t := time.NewTicker(p.h.opts.PollInterval)
	defer t.Stop()
	for {
		nudged, seen := false, uint64(0)
		select {
		case <-p.stopCh:
			return
		case <-t.C:
		case seen = <-p.nudge:
			nudged = true
		}
		p.mu.Lock()
		client, gen := p.client, p.gen
		p.mu.Unlock()
		if nudged && seen != gen {
			continue // about a process already replaced
		}
		if client == nil || !client.Exited() {
			continue
		}
		p.restart(gen)
	}
}

// restart replaces generation gen's exited process, retrying with backoff
// until a launch succeeds or the host stops. Only the watcher calls it.
func (p *Process) restart(gen uint64) {
	p.mu.Lock()
	if p.stopped || p.gen != gen {
		p.mu.Unlock()
		return
	}
	old, oldConn := p.client, p.conn
	p.client, p.conn = nil, nil
	p.ready = make(chan struct{})
	p.restarting = true
	p.restarts++
	p.mu.Unlock()
	p.log.Warn("plugin process exited; restarting")
	if oldConn != nil {
		oldConn.Close()
	}
	if old != nil {
		old.Kill()
	}
	backoff := 50 * time.Millisecond
	for {
		err := p.launch()
		if err == nil {
			p.log.Info("plugin process restarted")
			return
		}
		p.mu.Lock()
		p.lastErr = err
		stopped := p.stopped
		p.mu.Unlock()
		if stopped {
			return
		}
		p.log.Error("restarting plugin process failed", "error", err, "retry_in", backoff)
		select {
		case <-p.stopCh:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Conn returns the live connection, waiting a bounded time for a restart;
// after a failed restart attempt it fails at once with sdk.ErrUnavailable.
func (p *Process) Conn(ctx context.Context) (*rpc.Client, error) {
	conn, _, err := p.connGen(ctx)
	return conn, err
}

// connGen is Conn with the connection's generation.
func (p *Process) connGen(ctx context.Context) (*rpc.Client, uint64, error) {
	timer := time.NewTimer(p.h.opts.RestartWait)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ready, conn, gen, stopped, lastErr := p.ready, p.conn, p.gen, p.stopped, p.lastErr
		p.mu.Unlock()
		if stopped {
			return nil, 0, fmt.Errorf("%s: plugin host closed: %w", p.spec, sdk.ErrUnavailable)
		}
		if conn != nil {
			return conn, gen, nil
		}
		if lastErr != nil {
			// A restart already failed (e.g. a corrupt key file): fail
			// now rather than hold every call for RestartWait.
			return nil, 0, rpc.Unavailable(fmt.Sprintf("%s is restarting: last attempt: %v", p.spec, lastErr))
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-timer.C:
			msg := fmt.Sprintf("%s is restarting", p.spec)
			if lastErr != nil {
				msg += ": " + lastErr.Error()
			}
			return nil, 0, rpc.Unavailable(msg)
		}
	}
}

// noteErr reacts to a failed call on generation gen: a broken connection
// means the process may have died, so the watcher should look now rather
// than at the next poll. It never restarts anything itself.
func (p *Process) noteErr(gen uint64, err error) {
	if !errors.Is(err, sdk.ErrUnavailable) {
		return
	}
	select {
	case p.nudge <- gen:
	default: // a nudge is already pending; the poll covers the rest
	}
}

func (p *Process) configure(ctx context.Context, cfg sdk.Config) error {
	conn, err := p.Conn(ctx)
	if err != nil {
		return err
	}
	if err := conn.Configure(ctx, cfg); err != nil {
		return err
	}
	p.mu.Lock()
	p.configs[instKey{cfg.Kind, cfg.Instance}] = cfg
	p.mu.Unlock()
	return nil
}

func (p *Process) stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	if p.stopCh != nil {
		close(p.stopCh)
	}
	client, conn := p.client, p.conn
	keys := make([]instKey, 0, len(p.configs))
	for k := range p.configs {
		keys = append(keys, k)
	}
	p.mu.Unlock()
	if conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, k := range keys {
			_ = conn.CloseInstance(ctx, k.kind, k.name)
		}
		cancel()
		conn.Close()
	}
	if client != nil {
		client.Kill()
	}
}

// Kill sends SIGKILL to the plugin process (tests use it to simulate a
// crash); supervision restarts it.
func (p *Process) Kill() error {
	pid := p.Pid()
	if pid == 0 {
		return errors.New("no process")
	}
	return killPid(pid)
}

// call runs fn on the live connection of part's process, names the part in
// its errors and nudges the supervisor on transport failures.
func call[T any](ctx context.Context, p *Process, pt part, fn func(*rpc.Client) (T, error)) (T, error) {
	start := time.Now()
	conn, gen, err := p.connGen(ctx)
	if err != nil {
		var zero T
		err = pt.wrap(ctx, err)
		observeCall(p, pt, start, err)
		return zero, err
	}
	v, err := fn(conn)
	if err != nil {
		err = pt.wrap(ctx, err)
		p.noteErr(gen, err)
	}
	observeCall(p, pt, start, err)
	return v, err
}
