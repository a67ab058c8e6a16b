package rules

import (
	"errors"
	"os"
	"testing"
)

// FuzzDecodeRules checks that the decoder never panics, that every failure
// is either ErrSyntax or a *ValidationError, and that accepted rule sets
// survive an encode/decode round trip.
func FuzzDecodeRules(f *testing.F) {
	if b, err := os.ReadFile("testdata/rules.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"rules":[{"id":"q","kind":"earthquake","earthquake":{"threshold":"8"}}]}`))
	f.Add([]byte(`{"version":1,"rules":[{"id":"t","kind":"tsunami","tsunami":{"kinds":["major"]},"options":{"hold":"-1s"}}]}`))
	f.Add([]byte(`{"version":1,"rules":[{"id":"w","kind":"weather","target":"fixed","weather":{},"groups":["g"]}]}`))
	f.Add([]byte(`{"version":1,"rules":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := DecodeRules(data)
		if err != nil {
			var ve *ValidationError
			if !errors.Is(err, ErrSyntax) && !errors.As(err, &ve) {
				t.Fatalf("unclassified error %T: %v", err, err)
			}
			return
		}
		out, err := EncodeRules(rs)
		if err != nil {
			t.Fatalf("accepted rules do not encode: %v", err)
		}
		if _, err := DecodeRules(out); err != nil {
			t.Fatalf("encoded rules do not decode: %v\n%s", err, out)
		}
	})
}
