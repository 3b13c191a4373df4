package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// configRetryInterval is how soon a desired configuration whose publish
// failed is published again.
const configRetryInterval = 30 * time.Second

// configRetry remembers the scopes whose newest configuration failed to
// publish, so that only those go again: republishing a retained message
// delivers it to every cabin of the scope once more.
type configRetry struct {
	mu     sync.Mutex
	failed map[[2]string]bool // (site, cabin); cabin "" for a site
}

func (r *configRetry) set(site, cabin string, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed = map[[2]string]bool{}
	}
	if failed {
		r.failed[[2]string{site, cabin}] = true
	} else {
		delete(r.failed, [2]string{site, cabin})
	}
}

func (r *configRetry) take() [][2]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][2]string, 0, len(r.failed))
	for k := range r.failed {
		out = append(out, k)
	}
	return out
}

// PublishDesiredConfig publishes a site's or a cabin's desired
// configuration, retained at QoS 1, so that an agent that connects later
// still gets it. A failure is remembered and retried (RepublishDesiredConfigs).
func (p *MQTTNotices) PublishDesiredConfig(ctx context.Context, d wire.DesiredConfig) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("desired configuration of %s/%s: %w", d.Site, d.Cabin, err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode desired configuration of %s/%s: %w", d.Site, d.Cabin, err)
	}
	if len(b) > wire.MaxDesiredConfigBytes {
		return fmt.Errorf("desired configuration of %s/%s is %d bytes: %w", d.Site, d.Cabin, len(b), wire.ErrTooLarge)
	}
	topic := wire.SiteConfigTopic(d.Site)
	if d.Cabin != "" {
		topic = wire.ConfigTopic(d.Site, d.Cabin)
	}
	if err := wait(ctx, p.c.Publish(topic, 1, true, b)); err != nil {
		p.configs.set(d.Site, d.Cabin, true)
		return fmt.Errorf("publish desired configuration %s v%d: %w", topic, d.Version, err)
	}
	p.configs.set(d.Site, d.Cabin, false)
	p.log.Info("desired configuration published", "topic", topic, "version", d.Version, "bytes", len(b))
	return nil
}

// DesiredConfigSource is what republishing reads from the store.
type DesiredConfigSource interface {
	DesiredConfigs(ctx context.Context) ([]wire.DesiredConfig, error)
	DesiredConfig(ctx context.Context, site, cabin string) (wire.DesiredConfig, error)
}

// RepublishDesiredConfigs publishes the newest configuration of every
// scope once (at start: the broker may have lost its retained messages),
// then, every interval until ctx is done, those whose publish failed.
func (p *MQTTNotices) RepublishDesiredConfigs(ctx context.Context, st DesiredConfigSource, interval time.Duration) {
	all, err := st.DesiredConfigs(ctx)
	if err != nil && ctx.Err() == nil {
		p.log.Warn("read desired configurations to republish; trying each later", "err", err)
	}
	for _, d := range all {
		if err := p.PublishDesiredConfig(ctx, d); err != nil && ctx.Err() == nil {
			p.log.Warn("republish desired configuration", "site", d.Site, "cabin", d.Cabin, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		for _, k := range p.configs.take() {
			d, err := st.DesiredConfig(ctx, k[0], k[1])
			if err == nil {
				err = p.PublishDesiredConfig(ctx, d)
			}
			if err != nil && ctx.Err() == nil {
				p.log.Warn("republish desired configuration", "site", k[0], "cabin", k[1], "err", err)
			}
		}
	}
}
