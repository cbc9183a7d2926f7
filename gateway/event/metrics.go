package event

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the gateway's Prometheus series, in a registry of their own
// (never the global one, so two Servers in one process do not collide). The
// pipeline counts events, acks, errors and refusals; products register
// their own series with Register.
type Metrics struct {
	reg         *prometheus.Registry
	connects    *prometheus.CounterVec // namespace
	disconnects *prometheus.CounterVec // namespace
	refused     *prometheus.CounterVec // namespace (middleware refusals)
	eventsIn    *prometheus.CounterVec // namespace, event
	eventsOut   *prometheus.CounterVec // namespace, event
	acks        *prometheus.CounterVec // namespace, event, result
	errors      *prometheus.CounterVec // code
	limited     *prometheus.CounterVec // rule
	unchecked   *prometheus.CounterVec // rule

	// The children of the single-label series, by label value: a
	// WithLabelValues call hashes its labels and takes the vector's lock,
	// which the per-event paths should not pay (see children).
	errorsBy, limitedBy, uncheckedBy children
}

// children caches the children of a one-label CounterVec by label value.
// Label values come from fixed sets (error codes, rule names, a product's
// event names), so the cache is bounded by them.
type children struct {
	vec *prometheus.CounterVec
	m   sync.Map // label value → prometheus.Counter
}

// get returns the child of label value v.
func (ch *children) get(v string) prometheus.Counter {
	if c, ok := ch.m.Load(v); ok {
		return c.(prometheus.Counter)
	}
	c, _ := ch.m.LoadOrStore(v, ch.vec.WithLabelValues(v))
	return c.(prometheus.Counter)
}

// nsCounters are a namespace's children, resolved when the namespace is
// built.
type nsCounters struct {
	connects, disconnects, refused prometheus.Counter
	out                            children // eventsOut curried by namespace, by event
}

func (m *Metrics) namespace(ns string) *nsCounters {
	return &nsCounters{
		connects:    m.connects.WithLabelValues(ns),
		disconnects: m.disconnects.WithLabelValues(ns),
		refused:     m.refused.WithLabelValues(ns),
		out:         children{vec: m.eventsOut.MustCurryWith(prometheus.Labels{"namespace": ns})},
	}
}

// eventCounters are the children of one registered event, resolved when
// the event is bound (On).
type eventCounters struct {
	in, ok, failed prometheus.Counter
}

func (m *Metrics) event(ns, event string) eventCounters {
	return eventCounters{
		in:     m.eventsIn.WithLabelValues(ns, event),
		ok:     m.acks.WithLabelValues(ns, event, "ok"),
		failed: m.acks.WithLabelValues(ns, event, "error"),
	}
}

// NewMetrics returns the series in a new registry, with the Go and
// process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sockgate_socket_connects_total", Help: "Sockets connected, by namespace.",
		}, []string{"namespace"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sockgate_socket_disconnects_total", Help: "Sockets disconnected, by namespace.",
		}, []string{"namespace"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sockgate_socket_refused_total", Help: "Namespace connections refused by middleware, by namespace.",
		}, []string{"namespace"}),
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sockgate_events_in_total", Help: "Inbound events of registered names, by namespace and event.",
		}, []string{"namespace", "event"}),
		eventsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sockgate_events_out_total", Help: "Events emitted by the gateway (one per emit, broadcasts once), by namespace and event.",
		}, []string{"namespace", "event"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sockgate_acks_total", Help: "Events answered, by namespace, event and result (ok, error).",
		}, []string{"namespace", "event", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sockgate_errors_total", Help: "Failures reported to clients (events and HTTP), by code.",
		}, []string{"code"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sockgate_ratelimit_refusals_total", Help: "Events, requests and connections refused by a rate limit, by rule.",
		}, []string{"rule"}),
		unchecked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sockgate_ratelimit_unchecked_total", Help: "Events, requests and connections let through unchecked because the rate limiter's store did not answer (fail open), by rule.",
		}, []string{"rule"}),
	}
	m.errorsBy.vec, m.limitedBy.vec, m.uncheckedBy.vec = m.errors, m.limited, m.unchecked
	m.reg.MustRegister(m.connects, m.disconnects, m.refused, m.eventsIn, m.eventsOut, m.acks, m.errors, m.limited, m.unchecked,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds a product's own collectors (e.g. the tutorial's rooms gauge).
func (m *Metrics) Register(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }

// ConnectionsGauge exports the open Engine.IO connections.
func (m *Metrics) ConnectionsGauge(count func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sockgate_connections", Help: "Open Engine.IO connections on this instance.",
	}, func() float64 { return float64(count()) }))
}

// socketsGauge exports the live sockets of a namespace.
func (m *Metrics) socketsGauge(ns string, count func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sockgate_sockets", Help: "Sockets connected on this instance, by namespace.",
		ConstLabels: prometheus.Labels{"namespace": ns},
	}, func() float64 { return float64(count()) }))
}

// Handler serves the registry (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
