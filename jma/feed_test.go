package jma

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTypeFromURL(t *testing.T) {
	tests := []struct {
		url, typ, office string
		ok               bool
	}{
		{"https://www.data.jma.go.jp/developer/xml/data/20240101072400_0_VXSE53_010000.xml", "VXSE53", "010000", true},
		{"http://www.data.jma.go.jp/developer/xml/data/20211123230030_0_VFVO53_010000.xml", "VFVO53", "010000", true},
		{"https://www.data.jma.go.jp/developer/xml/data/20240320005334_0_VPWW54_030000.xml", "VPWW54", "030000", true},
		{"http://xml.kishou.go.jp/data/6b3f5f8e-2a6e-3c9d-9a5c-8e1a8f2b7c11.xml", "", "", false},
		{"urn:uuid:6b3f5f8e-2a6e-3c9d-9a5c-8e1a8f2b7c11", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			typ, office, ok := TypeFromURL(tc.url)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.typ, typ)
			require.Equal(t, tc.office, office)
		})
	}
}

func TestParseFeedFixtures(t *testing.T) {
	f, err := ParseFeed(fixture(t, "feed_extra_long.atom"))
	require.NoError(t, err)
	require.Equal(t, "extra", f.Name)
	require.True(t, f.Long)
	require.Len(t, f.Entries, 3)
	require.Equal(t, "VPWW54", f.Entries[0].DataType)
	require.Equal(t, "170000", f.Entries[0].Office)
	require.Equal(t, time.Date(2024, 7, 1, 1, 0, 5, 0, time.UTC), f.Entries[0].Updated.UTC())
	require.Equal(t, "金沢地方気象台", f.Entries[0].Author)

	legacy, err := ParseFeed(fixture(t, "feed_legacy_uuid.atom"))
	require.NoError(t, err)
	require.Equal(t, "regular", legacy.Name)
	require.False(t, legacy.Long)
	require.Len(t, legacy.Entries, 2)
	require.Equal(t, "urn:uuid:0c2a4a43-5a1e-3b43-9ed1-5f2f4f1f7a10", legacy.Entries[0].ID)
	require.Equal(t, "http://xml.kishou.go.jp/data/0c2a4a43-5a1e-3b43-9ed1-5f2f4f1f7a10.xml", legacy.Entries[0].Link)
	require.Equal(t, "", legacy.Entries[0].DataType, "legacy URLs carry no type")

	_, err = ParseFeed(fixture(t, "vxse42_test.xml"))
	require.ErrorIs(t, err, ErrNotReport)
	require.True(t, IsFeed(fixture(t, "feed_extra_long.atom")))
	require.False(t, IsFeed(fixture(t, "vxse42_test.xml")))
}

func TestParseFeedSample(t *testing.T) {
	b := readSample(t, "ATOM-eqvol_20211124T0801.xml")
	f, err := ParseFeed(b)
	require.NoError(t, err)
	require.Equal(t, "高頻度（地震火山）", f.Title)
	require.Equal(t, "eqvol", f.Name)
	require.False(t, f.Long)
	require.Len(t, f.Entries, 25, "MANIFEST: 25 entries")
	require.Equal(t, time.Date(2021, 11, 23, 23, 0, 0, 0, time.UTC), f.Entries[0].Updated.UTC())
	require.Equal(t, "2021-11-24T08:01:09+09:00", f.Updated.Format(time.RFC3339))
	for _, e := range f.Entries {
		require.NotEmpty(t, e.DataType, e.Link)
		require.Equal(t, e.ID, e.Link, "entry id = data URL")
		require.False(t, e.Updated.Before(time.Date(2021, 11, 23, 14, 0, 0, 0, time.UTC)))
	}
	require.Equal(t, "VFVO53", f.Entries[0].DataType)
	require.Equal(t, "降灰予報（定時）", f.Entries[0].Title)
}
