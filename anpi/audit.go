package anpi

import (
	"encoding/json"
	"slices"
	"time"
)

// AuditEntry is one line of the append-only audit log: who did what to
// whom, when. Stores assign Seq, increasing.
type AuditEntry struct {
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	Actor      UserID    `json:"actor,omitempty"` // empty for the system (auto-send)
	Action     string    `json:"action"`          // e.g. "user.update", "survey.start", "export.tally"
	TargetKind string    `json:"targetKind,omitempty"`
	TargetID   string    `json:"targetId,omitempty"`
	Detail     string    `json:"detail,omitempty"` // never a private address
}

// Validate checks the entry before it is appended.
func (e *AuditEntry) Validate() error {
	if e.At.IsZero() || e.Action == "" {
		return Errorf(InvalidArgument, "anpi: audit entry: time and action are required")
	}
	return nil
}

// AuditQuery selects audit entries, oldest first. Zero fields do not filter.
type AuditQuery struct {
	Actor    UserID
	TargetID string
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	AfterSeq int64     // for paging
	Limit    int       // 0 means 1000
}

// RuleRecord is a stored auto-send rule. The rule itself (package rules)
// is kept as JSON so the store does not depend on its Go type.
type RuleRecord struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Enabled   bool            `json:"enabled"`
	Spec      json.RawMessage `json:"spec"`
	Version   int             `json:"version"` // stores increment it on every update
	UpdatedAt time.Time       `json:"updatedAt"`
	UpdatedBy UserID          `json:"updatedBy,omitempty"`
}

// Clone returns a deep copy of r.
func (r *RuleRecord) Clone() *RuleRecord {
	c := *r
	c.Spec = slices.Clone(r.Spec)
	return &c
}

// Validate checks the record's fields; the spec must be a JSON object.
func (r *RuleRecord) Validate() error {
	if err := checkID("rule id", r.ID); err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(r.Spec, &obj); err != nil {
		return Errorf(InvalidArgument, "anpi: rule %s: spec is not a JSON object: %w", r.ID, err)
	}
	if obj == nil { // the JSON null unmarshals without error
		return Errorf(InvalidArgument, "anpi: rule %s: spec is null, not a JSON object", r.ID)
	}
	return nil
}
