package event

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value reads a counter's current value.
func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// The cached children are the series the vectors export: counting through
// them shows under the same labels, and a label value seen twice reuses
// its child.
func TestMetrics_Children(t *testing.T) {
	m := NewMetrics()
	ns := m.namespace("/chat")
	ns.out.get("newMessage").Inc()
	ns.out.get("newMessage").Inc()
	ns.connects.Inc()
	ev := m.event("/chat", "sendMessage")
	ev.in.Inc()
	ev.failed.Inc()
	m.errorsBy.get(CodeForbidden).Inc()
	m.limitedBy.get("chat").Inc()

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"events_out newMessage", value(t, m.eventsOut.WithLabelValues("/chat", "newMessage")), 2},
		{"events_out other namespace", value(t, m.eventsOut.WithLabelValues("/", "newMessage")), 0},
		{"connects", value(t, m.connects.WithLabelValues("/chat")), 1},
		{"events_in", value(t, m.eventsIn.WithLabelValues("/chat", "sendMessage")), 1},
		{"acks error", value(t, m.acks.WithLabelValues("/chat", "sendMessage", "error")), 1},
		{"acks ok", value(t, m.acks.WithLabelValues("/chat", "sendMessage", "ok")), 0},
		{"errors forbidden", value(t, m.errors.WithLabelValues(CodeForbidden)), 1},
		{"ratelimit refusals", value(t, m.limited.WithLabelValues("chat")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if ns.out.get("newMessage") != ns.out.get("newMessage") {
		t.Error("a label value's child is not reused")
	}
}

// BenchmarkMetrics_EventOut is the per-emit cost of counting an event: the
// vector's WithLabelValues (what every emit paid) against the namespace's
// cached child.
func BenchmarkMetrics_EventOut(b *testing.B) {
	m := NewMetrics()
	ns := m.namespace("/chat")
	b.Run("WithLabelValues", func(b *testing.B) {
		for b.Loop() {
			m.eventsOut.WithLabelValues("/chat", "newMessage").Inc()
		}
	})
	b.Run("Child", func(b *testing.B) {
		for b.Loop() {
			ns.out.get("newMessage").Inc()
		}
	})
	ev := m.event("/chat", "sendMessage")
	b.Run("BindingWithLabelValues", func(b *testing.B) {
		for b.Loop() {
			m.eventsIn.WithLabelValues("/chat", "sendMessage").Inc()
			m.acks.WithLabelValues("/chat", "sendMessage", "ok").Inc()
		}
	})
	b.Run("BindingChild", func(b *testing.B) {
		for b.Loop() {
			ev.in.Inc()
			ev.ok.Inc()
		}
	})
}
