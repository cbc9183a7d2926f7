package socketio

// Adapter stores rooms and performs broadcasts for one namespace. It is
// defined by the implementation (memory adapter now, a Node-compatible Redis
// adapter later).
type Adapter interface{}
