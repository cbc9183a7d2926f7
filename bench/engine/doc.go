// Package engine holds the micro-benchmarks of socketio/engine that
// compare it with another WebSocket library (gorilla/websocket): they live
// in the bench module so that the product's go.mod carries no dependency
// used only for a comparison. Run them with
//
//	cd bench && go test -run '^$' -bench . ./engine
//
// BenchmarkBroadcast: one 100-byte message to 50 WebSocket receivers, the
// engine against gorilla with a PreparedMessage and a writer goroutine per
// connection. BenchmarkIdleConn: heap bytes and goroutines per idle
// engine connection. socketio/engine's package doc quotes their figures.
package engine
