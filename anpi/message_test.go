package anpi

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var msgT0 = time.Date(2024, 1, 1, 7, 10, 0, 0, time.UTC)

func TestNormalizeMembers(t *testing.T) {
	require.Equal(t, []UserID{"a", "b", "c"}, NormalizeMembers("b", []UserID{"c", "a", "b", "c"}))
	require.Equal(t, []UserID{"a"}, NormalizeMembers("a", nil))
	require.Equal(t, []UserID{"x", "y"}, NormalizeMembers("", []UserID{"y", "x"}))
	th := &Thread{Members: NormalizeMembers("b", []UserID{"c", "a"})}
	require.True(t, th.HasMember("a"))
	require.True(t, th.HasMember("b"))
	require.False(t, th.HasMember("d"))
}

func TestThreadValidate(t *testing.T) {
	ok := func() *Thread {
		return &Thread{ID: "t1", Title: "対応方針", Members: []UserID{"a", "b"}, CreatedBy: "a", CreatedAt: msgT0}
	}
	require.NoError(t, ok().Validate())
	many := make([]UserID, MaxThreadMembers+1)
	for i := range many {
		many[i] = UserID(fmt.Sprintf("u%04d", i))
	}
	cases := []struct {
		name, want string
		edit       func(*Thread)
	}{
		{"no id", "thread id is required", func(t *Thread) { t.ID = "" }},
		{"no title", "title is empty", func(t *Thread) { t.Title = " \u3000" }},
		{"title with a newline", "line break", func(t *Thread) { t.Title = "a\nb" }},
		{"title too long", "title has 101 characters", func(t *Thread) { t.Title = strings.Repeat("題", MaxTitleLen+1) }},
		{"no creator", "creator is required", func(t *Thread) { t.CreatedBy = "" }},
		{"creator not a member", "creator c is not among the members", func(t *Thread) { t.CreatedBy = "c" }},
		{"alone", "at least one member besides its creator", func(t *Thread) { t.Members = []UserID{"a"} }},
		{"unsorted", "sorted and without repeats", func(t *Thread) { t.Members = []UserID{"b", "a"} }},
		{"repeated", "sorted and without repeats", func(t *Thread) { t.Members = []UserID{"a", "a", "b"} }},
		{"blank member", "member is required", func(t *Thread) { t.Members = []UserID{"", "a"} }},
		{"too many", "more than 500", func(t *Thread) { t.Members = many; t.CreatedBy = many[0] }},
		{"no time", "created-at is required", func(t *Thread) { t.CreatedAt = time.Time{} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th := ok()
			tc.edit(th)
			err := th.Validate()
			require.Equal(t, InvalidArgument, Code(err), "%v", err)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestCheckText(t *testing.T) {
	require.NoError(t, CheckText("m", "本社は無事です。\n\t明日は自宅待機。\r\n"))
	require.NoError(t, CheckText("m", strings.Repeat("あ", MaxMessageLen)))
	cases := []struct{ name, text, want string }{
		{"empty", "", "text is empty"},
		{"blank", " \n\u3000", "text is empty"},
		{"too long", strings.Repeat("あ", MaxMessageLen+1), "text has 4001 characters, more than 4000"},
		{"not UTF-8", "a\xffb", "text is not valid UTF-8"},
		{"NUL", "a\x00b", "text has a control character U+0000 at byte 1"},
		{"escape", "ok\x1b[31m", "text has a control character U+001B at byte 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckText("message m1", tc.text)
			require.Equal(t, InvalidArgument, Code(err), "%v", err)
			require.ErrorContains(t, err, "message m1: "+tc.want)
		})
	}
}

func TestMessageBoardPostValidate(t *testing.T) {
	m := &Message{ID: "m1", ThreadID: "t1", Author: "a", Text: "了解", At: msgT0}
	require.NoError(t, m.Validate())
	for name, edit := range map[string]func(*Message){
		"no id":     func(m *Message) { m.ID = "" },
		"no thread": func(m *Message) { m.ThreadID = "" },
		"no author": func(m *Message) { m.Author = "" },
		"no text":   func(m *Message) { m.Text = "" },
		"no time":   func(m *Message) { m.At = time.Time{} },
	} {
		c := m.Clone()
		edit(c)
		require.Equal(t, InvalidArgument, Code(c.Validate()), name)
	}

	b := &Board{ID: "b1", Title: "震災対応", Department: "sales", CreatedBy: "a", CreatedAt: msgT0}
	require.NoError(t, b.Validate())
	b2 := b.Clone()
	b2.Department = ""
	require.NoError(t, b2.Validate(), "a company-wide board")
	for name, edit := range map[string]func(*Board){
		"no id":           func(b *Board) { b.ID = "" },
		"no title":        func(b *Board) { b.Title = "" },
		"bad department":  func(b *Board) { b.Department = " sales" },
		"no creator":      func(b *Board) { b.CreatedBy = "" },
		"no created time": func(b *Board) { b.CreatedAt = time.Time{} },
	} {
		c := b.Clone()
		edit(c)
		require.Equal(t, InvalidArgument, Code(c.Validate()), name)
	}

	p := &Post{ID: "p1", BoardID: "b1", Author: "a", Text: "明日は休業", At: msgT0}
	require.NoError(t, p.Validate())
	for name, edit := range map[string]func(*Post){
		"no id":     func(p *Post) { p.ID = "" },
		"no board":  func(p *Post) { p.BoardID = "" },
		"no author": func(p *Post) { p.Author = "" },
		"long text": func(p *Post) { p.Text = strings.Repeat("x", MaxMessageLen+1) },
		"no time":   func(p *Post) { p.At = time.Time{} },
	} {
		c := p.Clone()
		edit(c)
		require.Equal(t, InvalidArgument, Code(c.Validate()), name)
	}
}

func TestPageQuery(t *testing.T) {
	var nilQ *PageQuery
	require.Equal(t, DefaultPageLimit, nilQ.PageLimit())
	require.Zero(t, nilQ.After())
	require.NoError(t, (&PageQuery{AfterSeq: 5, Limit: MaxPageLimit}).Validate())
	require.Equal(t, 7, (&PageQuery{Limit: 7}).PageLimit())
	require.Equal(t, InvalidArgument, Code((&PageQuery{AfterSeq: -1}).Validate()))
	require.Equal(t, InvalidArgument, Code((&PageQuery{Limit: -1}).Validate()))
	require.Equal(t, InvalidArgument, Code((&PageQuery{Limit: MaxPageLimit + 1}).Validate()))
}

func TestClonesAreDeep(t *testing.T) {
	th := &Thread{ID: "t", Members: []UserID{"a", "b"}}
	c := th.Clone()
	c.Members[0] = "z"
	require.Equal(t, UserID("a"), th.Members[0])
}
