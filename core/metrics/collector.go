package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PluginState is one plugin process as a scrape sees it.
type PluginState struct {
	Kind, Type string
	Restarts   int
	Healthy    bool
}

// CRLState is one published CRL.
type CRLState struct {
	CA, Kind   string // Kind: "full" or "delta"
	ThisUpdate time.Time
	NextUpdate time.Time
	Bytes      int
	Entries    int
}

// Source is what the daemon collector reads when scraped. Every field is
// optional.
type Source struct {
	Plugins func(ctx context.Context) []PluginState
	CRLs    func() []CRLState
	// Expiring counts each CA's unrevoked certificates whose notAfter
	// falls in (now, now+within]; it may be slow (a store query), so its
	// result is cached for ExpiringTTL.
	Expiring    func(ctx context.Context, within time.Duration) (map[string]int, error)
	ExpiringTTL time.Duration
	// Leader reports whether this node runs the periodic jobs.
	Leader func() bool
	Now    func() time.Time
}

// ExpiringWindows are the expiry windows reported (7 and 30 days).
var ExpiringWindows = []struct {
	Label  string
	Within time.Duration
}{{"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}

var (
	descPluginUp       = prometheus.NewDesc("pkid_plugin_up", "1 when the plugin process is running and healthy.", []string{"kind", "type"}, nil)
	descPluginRestarts = prometheus.NewDesc("pkid_plugin_restarts_total", "Restarts of the plugin process since the daemon started.", []string{"kind", "type"}, nil)
	descCRLAge         = prometheus.NewDesc("pkid_crl_age_seconds", "Seconds since the published CRL's thisUpdate.", []string{"ca", "kind"}, nil)
	descCRLUntilNext   = prometheus.NewDesc("pkid_crl_next_update_seconds", "Seconds until the published CRL's nextUpdate (negative: stale).", []string{"ca", "kind"}, nil)
	descCRLBytes       = prometheus.NewDesc("pkid_crl_size_bytes", "Size of the published CRL (DER).", []string{"ca", "kind"}, nil)
	descCRLEntries     = prometheus.NewDesc("pkid_crl_entries", "Revoked certificates listed in the published CRL.", []string{"ca", "kind"}, nil)
	descExpiring       = prometheus.NewDesc("pkid_certificates_expiring", "Unrevoked certificates expiring within the window, by CA.", []string{"ca", "within"}, nil)
	descExpiringErr    = prometheus.NewDesc("pkid_certificates_expiring_scrape_errors_total", "Failed counts of expiring certificates.", nil, nil)
	descLeader         = prometheus.NewDesc("pkid_jobs_leader", "1 when this node holds the jobs lease and runs the periodic jobs.", nil, nil)
)

// Collector is the daemon's scrape-time gauges.
type Collector struct {
	src Source

	mu        sync.Mutex
	expiring  map[string]map[string]int // window label -> ca -> count
	expiredAt time.Time
	errs      float64
}

// NewCollector returns a collector over src.
func NewCollector(src Source) *Collector {
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.ExpiringTTL <= 0 {
		src.ExpiringTTL = 5 * time.Minute
	}
	return &Collector{src: src}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPluginUp, descPluginRestarts, descCRLAge, descCRLUntilNext, descCRLBytes, descCRLEntries, descExpiring, descExpiringErr, descLeader} {
		ch <- d
	}
}

// scrapeTimeout bounds the health checks and the store query of a scrape.
const scrapeTimeout = 10 * time.Second

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	now := c.src.Now()
	if c.src.Plugins != nil {
		for _, p := range c.src.Plugins(ctx) {
			up := 0.0
			if p.Healthy {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(descPluginUp, prometheus.GaugeValue, up, p.Kind, p.Type)
			ch <- prometheus.MustNewConstMetric(descPluginRestarts, prometheus.CounterValue, float64(p.Restarts), p.Kind, p.Type)
		}
	}
	if c.src.CRLs != nil {
		for _, s := range c.src.CRLs() {
			ch <- prometheus.MustNewConstMetric(descCRLAge, prometheus.GaugeValue, now.Sub(s.ThisUpdate).Seconds(), s.CA, s.Kind)
			ch <- prometheus.MustNewConstMetric(descCRLUntilNext, prometheus.GaugeValue, s.NextUpdate.Sub(now).Seconds(), s.CA, s.Kind)
			ch <- prometheus.MustNewConstMetric(descCRLBytes, prometheus.GaugeValue, float64(s.Bytes), s.CA, s.Kind)
			ch <- prometheus.MustNewConstMetric(descCRLEntries, prometheus.GaugeValue, float64(s.Entries), s.CA, s.Kind)
		}
	}
	if c.src.Expiring != nil {
		counts, errs := c.expiringCounts(ctx, now)
		for _, w := range ExpiringWindows {
			for ca, n := range counts[w.Label] {
				ch <- prometheus.MustNewConstMetric(descExpiring, prometheus.GaugeValue, float64(n), ca, w.Label)
			}
		}
		ch <- prometheus.MustNewConstMetric(descExpiringErr, prometheus.CounterValue, errs)
	}
	if c.src.Leader != nil {
		v := 0.0
		if c.src.Leader() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, v)
	}
}

// expiringCounts returns the cached counts, refreshing them when older
// than ExpiringTTL. A failed refresh keeps the previous counts.
func (c *Collector) expiringCounts(ctx context.Context, now time.Time) (map[string]map[string]int, float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiring != nil && now.Sub(c.expiredAt) < c.src.ExpiringTTL {
		return c.expiring, c.errs
	}
	fresh := map[string]map[string]int{}
	for _, w := range ExpiringWindows {
		n, err := c.src.Expiring(ctx, w.Within)
		if err != nil {
			c.errs++
			return c.expiring, c.errs
		}
		fresh[w.Label] = n
	}
	c.expiring, c.expiredAt = fresh, now
	return fresh, c.errs
}

// Invalidate drops the cached expiry counts (after an issuance burst, in
// tests).
func (c *Collector) Invalidate() {
	c.mu.Lock()
	c.expiring = nil
	c.mu.Unlock()
}
