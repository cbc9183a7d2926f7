package event

import "reflect"

// EventInfo describes one event registered on a namespace with On: what
// the event reference (docs/EVENTS.md) documents and its test checks
// against the code.
type EventInfo struct {
	// Name is the event's name ("join_room").
	Name string
	// Rule is its rate-limit rule ("/:join_room"; "" for none).
	Rule string
	// Request is the payload type the first argument decodes into.
	Request reflect.Type
	// Reply is the type of the ack's reply on success.
	Reply reflect.Type
}

// Events returns the events registered on n, in registration order.
func (n *Namespace) Events() []EventInfo {
	out := make([]EventInfo, len(n.bindings))
	for i, b := range n.bindings {
		out[i] = b.info
	}
	return out
}
