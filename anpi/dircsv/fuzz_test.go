package dircsv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// addSeeds adds every testdata file, in UTF-8 and in Shift_JIS, and a few
// hand-made bad inputs.
func addSeeds(f *testing.F, glob string) {
	names, err := filepath.Glob(filepath.Join("testdata", glob))
	require.NoError(f, err)
	require.NotEmpty(f, names)
	for _, name := range names {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
		f.Add(sjis(f, string(bytes.TrimPrefix(b, []byte(utf8BOM)))))
	}
	for _, s := range []string{
		"",
		"\xef\xbb\xbf",
		"employee_code,name\n",
		"employee_code,name\nE1,\"unterminated\n",
		"employee_code,name,roles,regions\nE1,a,system_admin,quake:9\nE1,b,manager@,350\n",
		"社員番号,氏名,,\nE1,a,,x\n",
		"id,name,parent,order\nD1,a,D1,x\nD1,b,,99999999999999999999\n",
		"\xff\xfe\x00a",
		"\xa4\xa2\xa4\xa4,\xa4\xa6\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzParseUsers checks that no input makes the users parser panic, that
// it fails only with an InvalidArgument *ImportError, that what it accepts
// is valid, and that planning an accepted file against a directory does
// not panic either.
func FuzzParseUsers(f *testing.F) {
	addSeeds(f, "users_*.csv")
	st := newStore(f)
	seed(f, st)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := ParseUsers(bytes.NewReader(data), nil)
		if err != nil {
			require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
			require.True(t, errors.As(err, new(*ImportError)))
			return
		}
		codes := map[string]bool{}
		for _, r := range u.Records {
			require.False(t, codes[r.User.EmployeeCode], "duplicate employee code %q", r.User.EmployeeCode)
			codes[r.User.EmployeeCode] = true
			v := r.User.Clone()
			if v.ID == "" {
				v.ID = anpi.UserID(v.EmployeeCode)
			}
			if v.Status == "" {
				v.Status = anpi.Active
			}
			if v.Locale == "" {
				v.Locale = anpi.Japanese
			}
			require.NoError(t, v.Validate())
			for _, g := range r.Roles {
				require.NotEqual(t, anpi.SystemAdmin, g.Role)
			}
		}
		p, err := DryRun(ctx, st, Files{Users: bytes.NewReader(data)}, &Options{Mode: Sync})
		if err == nil {
			require.NotNil(t, p)
		} else {
			require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "%v", err)
		}
	})
}

// FuzzParseDepartments does the same for departments files.
func FuzzParseDepartments(f *testing.F) {
	addSeeds(f, "departments*.csv")
	st := newStore(f)
	seed(f, st)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDepartments(bytes.NewReader(data), nil)
		if err != nil {
			require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
			return
		}
		for _, r := range d.Records {
			require.NoError(t, r.Department.Validate())
		}
		_, err = DryRun(ctx, st, Files{Departments: bytes.NewReader(data)}, &Options{Mode: Sync})
		if err != nil {
			require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "%v", err)
		}
	})
}
