// Package result is the load generator's report format, shared by
// cmd/loadgen (which prints it as "RESULT <json>") and cmd/benchrun (which
// parses it).
package result

// Result is what one loadgen run reports. Latencies are milliseconds.
type Result struct {
	Workload    string  `json:"workload"`
	Conns       int     `json:"conns"`
	ConnectSecs float64 `json:"connect_secs"`
	// Disconnects counts connections lost before the end of the run; a run
	// with disconnects is not valid.
	Disconnects int64 `json:"disconnects"`
	// Rate is deliveries/s (fanout) or ack round trips/s (ack).
	Rate float64 `json:"rate,omitempty"`
	// AckRate is acks/s (gateway: the senders' chat acks).
	AckRate float64 `json:"ack_rate,omitempty"`
	// Broadcasts is broadcasts/s (fanout, latency).
	Broadcasts float64 `json:"broadcasts,omitempty"`
	// Samples and Lost count latency samples and deliveries that never came.
	Samples int     `json:"samples,omitempty"`
	Lost    int64   `json:"lost,omitempty"`
	P50     float64 `json:"p50_ms,omitempty"`
	P90     float64 `json:"p90_ms,omitempty"`
	P99     float64 `json:"p99_ms,omitempty"`
	P999    float64 `json:"p999_ms,omitempty"`
	Max     float64 `json:"max_ms,omitempty"`
	// Verified is set when the run's check passed: each receiver got each
	// broadcast exactly once and each sender's in order (fanout, latency),
	// or every ack matched its request (ack). Duplicates, Inversions,
	// ShortReceivers and Mismatched are what the check found (a run with
	// any is not valid, and loadgen exits with an error).
	Verified       bool  `json:"verified,omitempty"`
	Duplicates     int64 `json:"duplicates,omitempty"`
	Inversions     int64 `json:"inversions,omitempty"`
	ShortReceivers int   `json:"short_receivers,omitempty"`
	Mismatched     int64 `json:"mismatched,omitempty"`
	// LoadgenCPU is the load generator's own CPU use during the window, in
	// cores (1.0 = one core saturated: then it may be the bottleneck).
	LoadgenCPU float64 `json:"loadgen_cpu"`
	WindowSecs float64 `json:"window_secs,omitempty"`
}
