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
)

type instKey struct{ kind, name string }

// Process is one supervised plugin process.
type Process struct {
	h    *Host
	spec Spec
	log  hclog.Logger

	mu       sync.Mutex
	started  bool
	stopped  bool
	client   *plugin.Client
	conn     *sdk.Client
	ready    chan struct{} // closed while conn is usable
	lastErr  error
	restarts int
	configs  map[instKey][]byte // replayed after a restart
	stopCh   chan struct{}
}

// Spec returns the process's spec.
func (p *Process) Spec() Spec { return p.spec }

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
	if err := p.launch(); err != nil {
		p.mu.Lock()
		p.started = false
		p.mu.Unlock()
		return err
	}
	go p.watch()
	return nil
}

// launch starts the process and configures the known instances; on success
// it publishes the connection.
func (p *Process) launch() error {
	cmd, secure, err := p.h.command(p.spec)
	if err != nil {
		return err
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(nil),
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		Logger:           p.log,
		StartTimeout:     30 * time.Second,
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return fmt.Errorf("%s: %w", p.spec, ErrChecksum)
		}
		return fmt.Errorf("starting %s: %w", p.spec, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		client.Kill()
		return fmt.Errorf("starting %s: %w", p.spec, err)
	}
	conn := raw.(*sdk.Client)
	p.mu.Lock()
	configs := make(map[instKey][]byte, len(p.configs))
	for k, v := range p.configs {
		configs[k] = v
	}
	p.mu.Unlock()
	for k, js := range configs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := conn.Configure(ctx, sdk.Config{Kind: k.kind, Instance: k.name, JSON: js})
		cancel()
		if err != nil {
			client.Kill()
			return fmt.Errorf("reconfiguring %s instance %q after restart: %w", k.kind, k.name, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		client.Kill()
		return errors.New("plugin host closed")
	}
	p.client, p.conn = client, conn
	close(p.ready)
	return nil
}

// watch restarts the process whenever it exits, with backoff.
func (p *Process) watch() {
	t := time.NewTicker(p.h.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stopCh:
			return
		case <-t.C:
		}
		p.mu.Lock()
		client := p.client
		p.mu.Unlock()
		if client == nil || !client.Exited() {
			continue
		}
		p.restart()
	}
}

func (p *Process) restart() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	old, oldConn := p.client, p.conn
	p.client, p.conn = nil, nil
	p.ready = make(chan struct{})
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

// conn returns the live connection, waiting a bounded time for a restart.
func (p *Process) Conn(ctx context.Context) (*sdk.Client, error) {
	p.mu.Lock()
	ready, conn, stopped, lastErr := p.ready, p.conn, p.stopped, p.lastErr
	p.mu.Unlock()
	if stopped {
		return nil, fmt.Errorf("%s: plugin host closed", p.spec)
	}
	if conn != nil {
		return conn, nil
	}
	timer := time.NewTimer(p.h.opts.RestartWait)
	defer timer.Stop()
	select {
	case <-ready:
		return p.Conn(ctx)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		msg := fmt.Sprintf("%s is restarting", p.spec)
		if lastErr != nil {
			msg += ": " + lastErr.Error()
		}
		return nil, fmt.Errorf("%s: %w", msg, sdk.ErrUnavailable)
	}
}

// noteErr reacts to a failed call: a broken connection means the process
// may have died, so check now rather than at the next poll.
func (p *Process) noteErr(err error) {
	if !errors.Is(err, sdk.ErrUnavailable) {
		return
	}
	p.mu.Lock()
	client := p.client
	p.mu.Unlock()
	if client != nil && client.Exited() {
		go p.restart()
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
	p.configs[instKey{cfg.Kind, cfg.Instance}] = cfg.JSON
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
	p.mu.Unlock()
	if conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for k := range p.configs {
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

// call runs fn on the live connection and reacts to transport failures.
func call[T any](ctx context.Context, p *Process, fn func(*sdk.Client) (T, error)) (T, error) {
	conn, err := p.Conn(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := fn(conn)
	if err != nil {
		p.noteErr(err)
	}
	return v, err
}
