package shareddata

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFindHonoursEnvVar(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "jma-samples"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jma-samples", "a.xml"), []byte("<x/>"), 0o644))
	t.Setenv(EnvVar, dir)
	p, ok := Find("jma-samples")
	require.True(t, ok)
	require.Equal(t, filepath.Join(dir, "jma-samples"), p)
	require.Equal(t, []string{filepath.Join(dir, "jma-samples", "a.xml")}, Samples(t))
	require.Equal(t, []byte("<x/>"), ReadSample(t, "a.xml"))
	_, ok = Find("jma-codes")
	require.False(t, ok)
}

func TestFindBesideRepository(t *testing.T) {
	t.Setenv(EnvVar, "")
	p, ok := Find("jma-samples")
	if !ok {
		t.Skip("no ../shared/jma-samples beside this checkout")
	}
	require.DirExists(t, p)
	require.Equal(t, filepath.Join("shared", "jma-samples"), filepath.Join(filepath.Base(filepath.Dir(p)), filepath.Base(p)))
}
