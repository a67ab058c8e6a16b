package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/rules"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// line is one output line; its keys are the documented contract.
type line struct {
	Report     string   `json:"report"`
	Rule       string   `json:"rule"`
	Action     string   `json:"action"`
	Reason     string   `json:"reason"`
	Recipients []string `json:"recipients"`
	Count      int      `json:"count"`
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("anpi-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	users := fs.String("users", "", "CSV of recipients: header id,regions; regions space-separated kind:code")
	rulesPath := fs.String("rules", "", "JSON rule set (schema of package rules)")
	explain := fs.Bool("explain", false, "also print skip decisions")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: anpi-sim -users users.csv -rules rules.json [-explain] report.xml ...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *users == "" || *rulesPath == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	ix, err := loadUsers(*users)
	if err != nil {
		fmt.Fprintln(stderr, "anpi-sim:", err)
		return 1
	}
	rb, err := os.ReadFile(*rulesPath)
	if err != nil {
		fmt.Fprintln(stderr, "anpi-sim:", err)
		return 1
	}
	rs, err := rules.DecodeRules(rb)
	if err != nil {
		fmt.Fprintf(stderr, "anpi-sim: %s:\n%v\n", *rulesPath, err)
		return 1
	}
	status := 0
	var docs []*jma.Report
	names := map[*jma.Report]string{}
	for _, name := range fs.Args() {
		b, err := os.ReadFile(name)
		if err == nil {
			var r *jma.Report
			if r, err = jma.Parse(b); err == nil {
				docs = append(docs, r)
				names[r] = name
				continue
			}
		}
		fmt.Fprintf(stderr, "anpi-sim: %s: %v\n", name, err)
		status = 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for _, step := range rules.Replay(docs, rs, ix, nil) {
		for _, d := range step.Decisions {
			if d.Action == rules.ActionSkip && !*explain {
				continue
			}
			ids := d.Recipients()
			slices.Sort(ids)
			ids = slices.Compact(ids)
			report := names[d.Report]
			if report == "" && step.Doc >= 0 {
				report = names[docs[step.Doc]]
			}
			if err := enc.Encode(line{Report: report, Rule: d.Rule, Action: string(d.Action), Reason: d.Reason,
				Recipients: ids, Count: len(ids)}); err != nil {
				fmt.Fprintln(stderr, "anpi-sim:", err)
				return 1
			}
		}
	}
	return status
}

// loadUsers reads the users CSV into an index.
func loadUsers(path string) (*rules.Index, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 2
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	if !strings.EqualFold(strings.TrimSpace(header[0]), "id") || !strings.EqualFold(strings.TrimSpace(header[1]), "regions") {
		return nil, fmt.Errorf("%s: header %q: want id,regions", path, strings.Join(header, ","))
	}
	ix := rules.NewIndex()
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		lineNo, _ := r.FieldPos(0)
		id := strings.TrimSpace(rec[0])
		if id == "" {
			return nil, fmt.Errorf("%s: line %d: empty id", path, lineNo)
		}
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("%s: line %d: id %q already on line %d", path, lineNo, id, prev)
		}
		seen[id] = lineNo
		if err := ix.Add(id, strings.Fields(rec[1])...); err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, lineNo, err)
		}
	}
	return ix, nil
}
