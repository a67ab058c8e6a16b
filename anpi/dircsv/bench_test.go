package dircsv

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

const benchDepartments = 50

// benchUsersCSV returns a users file of n rows with every column filled:
// Japanese names and kana, two departments, groups, a title, regions and,
// on every tenth row, a scoped role.
func benchUsersCSV(n int) string {
	var b strings.Builder
	b.WriteString("employee_code,name,name_kana,work_email,departments,groups,title,regions,status,locale,roles\n")
	family := []string{"山田", "佐藤", "鈴木", "高橋", "田中", "渡辺", "伊藤", "中村"}
	kana := []string{"ヤマダ", "サトウ", "スズキ", "タカハシ", "タナカ", "ワタナベ", "イトウ", "ナカムラ"}
	for i := range n {
		f := i % len(family)
		role := ""
		if i%10 == 0 {
			role = fmt.Sprintf("manager@D%02d", i%benchDepartments)
		}
		fmt.Fprintf(&b, "E%06d,%s 太郎%d,%s タロウ,user%d@example.jp,D%02d|D%02d,災害対策|'=第%d班,'-主任,quake:%03d warning:13%05d,active,ja,%s\n",
			i, family[f], i, kana[f], i, i%benchDepartments, (i+1)%benchDepartments, i%7, 300+i%50, i%1000, role)
	}
	return b.String()
}

func benchStore(b *testing.B) anpi.Store {
	st := newStore(b)
	ctx := context.Background()
	for i := range benchDepartments {
		require.NoError(b, st.CreateDepartment(ctx, &anpi.Department{ID: anpi.DepartmentID(fmt.Sprintf("D%02d", i)), Name: fmt.Sprintf("部署%d", i)}))
	}
	return st
}

func reportRows(b *testing.B, rows int) {
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkImport10k imports 10,000 users. Sub-benchmarks: reading the
// same bytes with encoding/csv alone (the baseline), ParseUsers, Plan
// (DryRun into a store holding only the departments), Import into an empty
// memstore in UTF-8 and Shift_JIS, and re-importing the unchanged file.
func BenchmarkImport10k(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	text := benchUsersCSV(n)
	utf := append(append([]byte{}, utf8BOM...), text...)
	sj := sjis(b, text)

	b.Run("baseline-encoding-csv", func(b *testing.B) {
		b.SetBytes(int64(len(utf)))
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(utf))
			r.ReuseRecord = true
			rows := 0
			for {
				_, err := r.Read()
				if err == io.EOF {
					break
				}
				require.NoError(b, err)
				rows++
			}
			require.Equal(b, n+1, rows)
		}
		reportRows(b, n)
	})
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(utf)))
		for b.Loop() {
			f, err := ParseUsers(bytes.NewReader(utf), nil)
			require.NoError(b, err)
			require.Len(b, f.Records, n)
		}
		reportRows(b, n)
	})
	b.Run("plan", func(b *testing.B) {
		st := benchStore(b)
		b.SetBytes(int64(len(utf)))
		for b.Loop() {
			p, err := DryRun(ctx, st, Files{Users: bytes.NewReader(utf)}, nil)
			require.NoError(b, err)
			require.Len(b, p.AddUsers, n)
		}
		reportRows(b, n)
	})
	for _, tc := range []struct {
		name string
		data []byte
	}{{"import-utf8", utf}, {"import-shift_jis", sj}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				st := benchStore(b)
				p, err := Import(ctx, st, Files{Users: bytes.NewReader(tc.data)}, nil)
				require.NoError(b, err)
				require.Len(b, p.AddUsers, n)
			}
			reportRows(b, n)
		})
	}
	b.Run("reimport-unchanged", func(b *testing.B) {
		st := benchStore(b)
		_, err := Import(ctx, st, Files{Users: bytes.NewReader(utf)}, nil)
		require.NoError(b, err)
		b.SetBytes(int64(len(utf)))
		for b.Loop() {
			p, err := Import(ctx, st, Files{Users: bytes.NewReader(utf)}, nil)
			require.NoError(b, err)
			require.Equal(b, n, p.UnchangedUsers)
		}
		reportRows(b, n)
	})
	b.Run("export", func(b *testing.B) {
		st := benchStore(b)
		_, err := Import(ctx, st, Files{Users: bytes.NewReader(utf)}, nil)
		require.NoError(b, err)
		for b.Loop() {
			require.NoError(b, ExportUsers(ctx, st, io.Discard, nil))
		}
		reportRows(b, n)
	})
}
