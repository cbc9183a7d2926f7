// Package docs holds sockgate's reference documents: EVENTS.md (every
// Socket.IO event), NESTJS.md (moving from a NestJS gateway) and
// openapi.json, the OpenAPI 3 document of the REST API, which the gateway
// serves at GET /openapi.json. Tests in package gateway check EVENTS.md
// and openapi.json against the events and routes the gateway registers.
package docs

import _ "embed"

// OpenAPI is openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
