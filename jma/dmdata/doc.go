// Package dmdata is a jma.Source that receives JMA disaster XML pushed by
// DMDATA.jp (Project DM-D.S.S) over its v2 WebSocket API. DMDATA is the only
// practical source of EEW (緊急地震速報) XML, which the JMA PULL feeds do not
// carry.
//
// Run starts a socket (POST /v2/socket with the classifications, optional
// types, test=no or test=including and formatMode=raw), connects to the
// returned WebSocket URL with the dmdata.v2 subprotocol, answers each ping
// message with a pong carrying its pingId, decodes base64+gzip (or plain
// utf-8) bodies, and emits one jma.Document per telegram. Training and test
// telegrams are requested only when Options.IncludeTest is set, and are
// dropped otherwise even if sent. Dropped connections are re-established with
// exponential backoff on an injectable clock.
//
// The package uses the standard library only; its WebSocket client implements
// the subset of RFC 6455 the API needs (masked client frames, fragmentation,
// ping/pong/close control frames) with a bound on message size.
package dmdata
