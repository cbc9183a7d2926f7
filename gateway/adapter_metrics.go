package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockgate/sockgate/socketio"
	sioredis "github.com/sockgate/sockgate/socketio/redis"
)

// adapterStats exports the Redis adapter's counters of each namespace
// (nothing with another adapter): sockgate_adapter_*_total{namespace}.
type adapterStats struct {
	io  *socketio.Server
	nss []string
}

var adapterDescs = map[string]*prometheus.Desc{}

func adapterDesc(name, help string) *prometheus.Desc {
	d := prometheus.NewDesc("sockgate_adapter_"+name+"_total", help, []string{"namespace"}, nil)
	adapterDescs[name] = d
	return d
}

var (
	descPublished      = adapterDesc("published_messages", "Messages the Redis adapter published, by namespace.")
	descPublishedBytes = adapterDesc("published_bytes", "Bytes the Redis adapter published, by namespace.")
	descPublishErrors  = adapterDesc("publish_errors", "Publishes to Redis that failed, by namespace.")
	descReceived       = adapterDesc("received_messages", "Messages the Redis adapter received, by namespace.")
	descReceivedBytes  = adapterDesc("received_bytes", "Bytes the Redis adapter received, by namespace.")
	descMalformed      = adapterDesc("malformed_messages", "Received messages ignored as malformed or unknown, by namespace.")
	descTimeouts       = adapterDesc("request_timeouts", "Requests to other servers that ended without every answer, by namespace.")
	descReconnects     = adapterDesc("reconnects", "Re-subscriptions after a lost Redis connection, by namespace.")
)

// Describe implements prometheus.Collector.
func (a adapterStats) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range adapterDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (a adapterStats) Collect(ch chan<- prometheus.Metric) {
	for _, name := range a.nss {
		ns, err := a.io.OfErr(name)
		if err != nil {
			continue
		}
		ad, ok := ns.Adapter().(*sioredis.Adapter)
		if !ok {
			continue
		}
		st := ad.Stats()
		for d, v := range map[*prometheus.Desc]uint64{
			descPublished: st.Published, descPublishedBytes: st.PublishedBytes, descPublishErrors: st.PublishErrors,
			descReceived: st.Received, descReceivedBytes: st.ReceivedBytes, descMalformed: st.Malformed,
			descTimeouts: st.RequestTimeouts, descReconnects: st.Reconnects,
		} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), name)
		}
	}
}
