package redis

import (
	"time"

	"github.com/sockgate/sockgate/socketio"
)

// recoveryTTL is n's server's MaxDisconnectionDuration (0: recovery off).
func recoveryTTL(n *socketio.Namespace) time.Duration { return 0 }
