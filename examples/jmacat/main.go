// Command jmacat prints one JSON object per line for each JMA XML file named
// on its command line, in order: the data type, Control/Head facts, the
// observed maximum intensity, per-area intensities, tsunami kinds and
// municipal warning kinds. For an Atom feed it prints the number of entries.
//
// Usage:
//
//	jmacat FILE...
//
// A file that cannot be read or parsed prints {"file":…,"error":…}; the exit
// status is 1 if any file failed.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/anpikit/anpi/jma"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// record is one output line. Keys are part of a contract that external
// checks rely on.
type record struct {
	File           string              `json:"file"`
	Type           string              `json:"type"`
	Title          string              `json:"title"`
	Status         string              `json:"status"`
	InfoType       string              `json:"infoType"`
	EventIDs       []string            `json:"eventIDs"`
	Serial         string              `json:"serial"`
	ReportDateTime string              `json:"reportDateTime"`
	MaxIntensity   string              `json:"maxIntensity"`
	Areas          map[string]string   `json:"areas"`
	Tsunami        map[string]string   `json:"tsunami"`
	Warnings       map[string][]string `json:"warnings"`
	Entries        *int                `json:"entries,omitempty"`
	Family         string              `json:"family,omitempty"`
}

type failure struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: jmacat FILE...")
		return 2
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	status := 0
	for _, name := range args {
		rec, err := describe(name)
		if err != nil {
			status = 1
			if err := enc.Encode(failure{File: name, Error: err.Error()}); err != nil {
				fmt.Fprintln(stderr, "jmacat:", err)
				return 1
			}
			continue
		}
		if err := enc.Encode(rec); err != nil {
			fmt.Fprintln(stderr, "jmacat:", err)
			return 1
		}
	}
	return status
}

func describe(name string) (*record, error) {
	data, err := readLimited(name)
	if err != nil {
		return nil, err
	}
	rec := &record{File: name, EventIDs: []string{}, Areas: map[string]string{},
		Tsunami: map[string]string{}, Warnings: map[string][]string{}}
	if jma.IsFeed(data) {
		f, err := jma.ParseFeed(data)
		if err != nil {
			return nil, err
		}
		n := len(f.Entries)
		rec.Type, rec.Title, rec.Entries = "feed", f.Title, &n
		return rec, nil
	}
	r, err := jma.Parse(data)
	if err != nil {
		return nil, err
	}
	rec.Type = r.Type
	rec.Family = string(r.Family)
	rec.Title = r.Control.Title
	rec.Status = string(r.Control.Status)
	rec.InfoType = string(r.Head.InfoType)
	rec.EventIDs = append(rec.EventIDs, r.Head.EventIDs...)
	rec.Serial = r.Head.Serial
	rec.ReportDateTime = r.Head.ReportDateTimeRaw
	if eq := r.Earthquake; eq != nil && eq.Intensity != nil {
		rec.MaxIntensity = eq.Intensity.MaxInt.String()
		for _, p := range eq.Intensity.Prefs {
			for _, a := range p.Areas {
				if a.MaxInt != jma.IntensityNone {
					rec.Areas[a.Code] = a.MaxInt.String()
				}
			}
		}
	}
	if t := r.Tsunami; t != nil {
		for _, it := range t.Forecast {
			rec.Tsunami[it.AreaCode] = string(it.Kind)
		}
	}
	if w := r.Warnings; w != nil {
		for _, g := range w.Groups {
			if g.Level != jma.LevelCity {
				continue
			}
			for _, it := range g.Items {
				for _, k := range it.Kinds {
					if k.Code == "" {
						continue
					}
					rec.Warnings[it.AreaCode] = append(rec.Warnings[it.AreaCode], k.Code+":"+string(k.Status))
				}
			}
		}
		for _, v := range rec.Warnings {
			sort.Strings(v)
		}
	}
	return rec, nil
}

// readLimited reads a file, refusing more than jma.MaxDocumentSize bytes.
func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, jma.MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > jma.MaxDocumentSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes", name, jma.MaxDocumentSize)
	}
	return data, nil
}
