package anpi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
)

// listCounter counts the directory reads of the Service.
type listCounter struct {
	*memstore.Store
	lists int
}

func (c *listCounter) ListUsers(ctx context.Context, q *anpi.UserQuery) ([]*anpi.User, error) {
	c.lists++
	return c.Store.ListUsers(ctx, q)
}

// TestDirectoryReadWhenChanged: the Service reads the whole directory for
// a document only when the store's users version moved since it last did,
// and a user added in between is asked on the next document.
func TestDirectoryReadWhenChanged(t *testing.T) {
	e := newEnv(t, quakeRule)
	st := &listCounter{Store: e.st}
	svc, err := anpi.New(st, &anpi.Options{Clock: e.clock.Now, BaseURL: baseURL})
	require.NoError(t, err)

	out, err := svc.HandleDocument(e.ctx, fixture(t, docVXSE51))
	require.NoError(t, err)
	require.Len(t, out.Effects, 1)
	sv := out.Effects[0].Survey
	require.Equal(t, 1, st.lists, "the first document reads the directory")

	_, err = svc.HandleDocument(e.ctx, fixture(t, docVXSE51))
	require.NoError(t, err)
	require.Equal(t, 1, st.lists, "the same directory is not read again")

	r, err := anpi.ParseRegion("quake:380")
	require.NoError(t, err)
	require.NoError(t, e.st.CreateUser(e.ctx, &anpi.User{ID: "newcomer", EmployeeCode: "E-newcomer", Name: "newcomer san",
		Departments: []anpi.DepartmentID{"kanazawa"}, Regions: []anpi.Region{r}, Status: anpi.Active, Locale: anpi.Japanese}))
	_, err = svc.HandleDocument(e.ctx, fixture(t, docVXSE53))
	require.NoError(t, err)
	require.Equal(t, 2, st.lists, "a user created in between: the directory is read again")
	require.Contains(t, e.recipients(sv), "newcomer", "the newcomer in 380, which the VXSE53 adds, is asked")
}

// TestPreload: after Preload, the first document reads no directory.
func TestPreload(t *testing.T) {
	e := newEnv(t, quakeRule)
	st := &listCounter{Store: e.st}
	svc, err := anpi.New(st, &anpi.Options{Clock: e.clock.Now, BaseURL: baseURL})
	require.NoError(t, err)
	require.NoError(t, svc.Preload(e.ctx))
	require.Equal(t, 1, st.lists)
	out, err := svc.HandleDocument(e.ctx, fixture(t, docVXSE51))
	require.NoError(t, err)
	require.Len(t, out.Effects, 1)
	require.NotZero(t, out.Effects[0].Queued)
	require.Equal(t, 1, st.lists, "the document used the preloaded directory")
}
