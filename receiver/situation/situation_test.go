package situation

import (
	"reflect"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
)

var now = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

func fact(name, value string, at, since time.Time) store.Fact {
	return store.Fact{Site: "s", Cabin: "c", Name: name, Value: value, At: at, Since: since}
}

func names(ss []Situation) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func TestDerive(t *testing.T) {
	online := store.Cabin{Site: "s", Cabin: "c", Online: true, LastSeen: ago(time.Minute), StatusTime: ago(time.Hour)}
	heard := fact(store.FactHeartbeat, "", ago(time.Minute), ago(time.Minute))
	cases := []struct {
		name  string
		cabin store.Cabin
		facts []store.Fact
		want  []string
	}{
		{"in service and heard from", online, []store.Fact{heard,
			fact(store.FactAlarm, "false", ago(time.Hour), ago(2*time.Hour)),
			fact(store.FactLink, "ok", ago(time.Hour), ago(time.Hour))}, nil},
		{"never heard of at all", store.Cabin{Site: "s", Cabin: "c"}, nil, []string{Offline}},
		{"trapped, with the alarm pressed", online, []store.Fact{heard,
			fact(store.FactAlarm, "true", ago(time.Minute), ago(5*time.Minute)),
			fact(store.FactEntrapment, "true", ago(time.Minute), ago(4*time.Minute))}, []string{Entrapment, Alarm}},
		{"out of service", online, []store.Fact{heard, fact(store.FactInService, "false", ago(time.Minute), ago(time.Hour))}, []string{OutOfService}},
		{"offline by its will", store.Cabin{Site: "s", Cabin: "c", Online: false, LastSeen: ago(time.Hour), StatusTime: ago(time.Hour)},
			[]store.Fact{fact(store.FactHeartbeat, "", ago(2*time.Hour), ago(2*time.Hour))}, []string{Offline}},
		{"online by its last word, unheard for long", store.Cabin{Site: "s", Cabin: "c", Online: true, LastSeen: ago(10 * time.Minute)},
			[]store.Fact{heard}, []string{Offline}},
		{"controller link lost", online, []store.Fact{heard, fact(store.FactLink, "lost", ago(time.Minute), ago(3*time.Minute))}, []string{ControllerLinkLost}},
		{"connected but silent", online, []store.Fact{fact(store.FactHeartbeat, "", ago(time.Hour), ago(time.Hour))}, []string{Silent}},
		{"a deep outbox", online, []store.Fact{heard, fact(store.FactOutboxDepth, "5000", ago(time.Minute), ago(time.Minute)),
			fact(store.FactOldestAge, "30", ago(time.Minute), ago(time.Minute))}, []string{Backlog}},
		{"an old outbox entry", online, []store.Fact{heard, fact(store.FactOutboxDepth, "3", ago(time.Minute), ago(time.Minute)),
			fact(store.FactOldestAge, "3600", ago(time.Minute), ago(time.Minute))}, []string{Backlog}},
		{"a recent loss", online, []store.Fact{heard, fact(store.FactLoss, "12", ago(time.Hour), ago(time.Hour))}, []string{Losses}},
		{"an old loss", online, []store.Fact{heard, fact(store.FactLoss, "12", ago(48*time.Hour), ago(48*time.Hour))}, nil},
		{"another cabin's facts", online, []store.Fact{heard, {Site: "s", Cabin: "other", Name: store.FactAlarm, Value: "true", At: now, Since: now}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := names(Derive(c.cabin, c.facts, now, Thresholds{})); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("situations %v, want %v", got, c.want)
			}
		})
	}
}

// TestSinceIsWhenItBegan: an alarm pressed at 09:55 and reported again
// since is an alarm since 09:55; an entrapment is critical.
func TestSinceIsWhenItBegan(t *testing.T) {
	c := store.Cabin{Site: "s", Cabin: "c", Online: true, LastSeen: ago(time.Minute)}
	ss := Derive(c, []store.Fact{
		fact(store.FactHeartbeat, "", ago(time.Minute), ago(time.Minute)),
		fact(store.FactAlarm, "true", ago(time.Minute), ago(5*time.Minute)),
		fact(store.FactEntrapment, "true", ago(time.Minute), ago(4*time.Minute)),
	}, now, Thresholds{})
	if len(ss) != 2 || !ss[1].Since.Equal(ago(5*time.Minute)) || ss[0].Severity != Critical || ss[1].Severity != Critical {
		t.Fatalf("situations %+v", ss)
	}
}
