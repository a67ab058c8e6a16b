package jma

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// xmlInputs lists the samples (when present) and the fixtures.
func xmlInputs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	fx, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	require.NoError(t, err)
	for _, f := range fx {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out[f] = b
	}
	if dir := samplesDirOptional(); dir != "" {
		ss, err := filepath.Glob(filepath.Join(dir, "*.xml"))
		require.NoError(t, err)
		for _, f := range ss {
			if strings.HasPrefix(filepath.Base(f), "ATOM") {
				continue
			}
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			out[filepath.Base(f)] = b
		}
	}
	return out
}

func TestSummarizeAgreesWithParse(t *testing.T) {
	inputs := xmlInputs(t)
	require.NotEmpty(t, inputs)
	for name, b := range inputs {
		t.Run(name, func(t *testing.T) {
			r, perr := Parse(b)
			s, serr := Summarize(b)
			if perr != nil {
				require.Error(t, serr, "Parse failed with %v but Summarize succeeded", perr)
				return
			}
			require.NoError(t, serr)
			require.Equal(t, r.Summary(), s)
		})
	}
}
