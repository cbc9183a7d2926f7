module github.com/sockgate/sockgate/bench

go 1.26.8

require (
	github.com/gobwas/ws v1.5.0
	github.com/gorilla/websocket v1.5.3
	github.com/sockgate/sockgate v0.0.0
)

require github.com/gobwas/httphead v0.1.0 // indirect

replace github.com/sockgate/sockgate => ../
