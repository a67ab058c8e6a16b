// Command anpi-server is the AnpiKit reference server.
//
// Today it is a read-only demonstration of the domain: it seeds a demo
// organisation (departments, a few hundred users with regions, private
// contacts and one survey with answers) into the in-memory store and serves
// the administrator's JSON views over HTTP. The full server (answer pages,
// dashboard, SQLite by default, JMA feed) arrives with later issues.
//
//	go run ./examples/anpi-server            # listens on 127.0.0.1:8080
//	go run ./examples/anpi-server -h         # flags
//
// Endpoints:
//
//	GET /healthz                    liveness
//	GET /api/departments            the department tree
//	GET /api/users                  administrator views of users (no private address)
//	GET /api/surveys                surveys
//	GET /api/surveys/{id}/tally     live tally with subtree roll-up and answer-time quartiles
package main
