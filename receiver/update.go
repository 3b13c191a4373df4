package receiver

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/palier-lifts/palier/receiver/rollout"
	"github.com/palier-lifts/palier/wire"
)

var _ rollout.Publisher = (*MQTTNotices)(nil)

// PublishUpdate publishes the version a cabin should run, retained at QoS
// 1 on its update topic, so that an agent that reconnects still gets it.
func (p *MQTTNotices) PublishUpdate(ctx context.Context, u wire.Update) error {
	if err := u.Validate(); err != nil {
		return fmt.Errorf("desired version for %s/%s: %w", u.Site, u.Cabin, err)
	}
	b, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encode desired version for %s/%s: %w", u.Site, u.Cabin, err)
	}
	if err := wait(ctx, p.c.Publish(wire.UpdateTopic(u.Site, u.Cabin), 1, true, b)); err != nil {
		return fmt.Errorf("publish desired version for %s/%s: %w", u.Site, u.Cabin, err)
	}
	return nil
}
