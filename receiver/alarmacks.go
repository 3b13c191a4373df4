package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// alarmAckRepublishInterval is how soon an acknowledgement whose publish
// failed reaches its cabin anyway: a trapped passenger is waiting for it.
const alarmAckRepublishInterval = 30 * time.Second

// PublishAlarmAck publishes an operator's acknowledgement to its cabin,
// retained at QoS 1, so that an agent that reconnects still gets it.
func (p *MQTTNotices) PublishAlarmAck(ctx context.Context, ack wire.AlarmAck) error {
	if err := ack.Validate(); err != nil {
		return fmt.Errorf("alarm acknowledgement for %s/%s: %w", ack.Site, ack.Cabin, err)
	}
	b, err := json.Marshal(ack)
	if err != nil {
		return fmt.Errorf("encode alarm acknowledgement for %s/%s: %w", ack.Site, ack.Cabin, err)
	}
	if err := wait(ctx, p.c.Publish(wire.AlarmAckTopic(ack.Site, ack.Cabin), 1, true, b)); err != nil {
		p.metrics.AlarmAcksPublish.WithLabelValues("error").Inc()
		return fmt.Errorf("publish alarm acknowledgement for %s/%s: %w", ack.Site, ack.Cabin, err)
	}
	p.metrics.AlarmAcksPublish.WithLabelValues("ok").Inc()
	return nil
}

// RepublishAlarmAcks publishes, every interval until ctx is done, the
// acknowledgement of every cabin with open acknowledged alarms: it repairs
// a publish that failed, and a retained message the broker lost.
func (p *MQTTNotices) RepublishAlarmAcks(ctx context.Context, st store.Store, interval time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		open, err := st.Alarms(ctx, "", "", true, 10000)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("read open alarms to republish their acknowledgements", "err", err)
			}
			continue
		}
		byCabin := map[[2]string][]store.Alarm{}
		var order [][2]string
		for _, a := range open {
			k := [2]string{a.Site, a.Cabin}
			if _, ok := byCabin[k]; !ok {
				order = append(order, k)
			}
			byCabin[k] = append(byCabin[k], a)
		}
		for _, k := range order {
			ack := store.AlarmAckOf(k[0], k[1], byCabin[k])
			if len(ack.Alarms) == 0 {
				continue // none acknowledged yet
			}
			if err := p.PublishAlarmAck(ctx, ack); err != nil && ctx.Err() == nil {
				p.log.Warn("republish alarm acknowledgement", "site", k[0], "cabin", k[1], "err", err)
			}
		}
	}
}
