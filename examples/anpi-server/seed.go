package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/rules"
)

// adminID is the administrator's user ID; his login email is
// -admin-email (default defaultAdminEmail).
const (
	adminID           anpi.UserID = "admin"
	defaultAdminEmail             = "admin@example.jp"
)

// office is a place where demo users live and work: its quake area
// (地震情報／細分区域) and, on the coast, its tsunami forecast region
// (津波予報区). The codes are JMA's.
type office struct {
	dept    anpi.DepartmentID
	quake   string
	tsunami string // "" inland
}

// demoOffices are the demo organisation's offices.
var demoOffices = []office{
	{"tokyo-sales", "350", "312"}, // 東京都２３区, 東京湾内湾
	{"tokyo-dev", "350", "312"},   // 東京都２３区, 東京湾内湾
	{"tama-lab", "351", ""},       // 東京都多摩東部
	{"yokohama", "360", "330"},    // 神奈川県東部, 相模湾・三浦半島
	{"osaka", "520", "510"},       // 大阪府北部, 大阪府
	{"sendai", "222", "220"},      // 宮城県中部, 宮城県
}

// demoQuakeAreas and demoTsunamiRegions are the codes the default rules watch.
var (
	demoQuakeAreas     = []string{"350", "351", "360", "520", "222"}
	demoTsunamiRegions = []string{"312", "330", "510", "220"}
)

// demoRules returns the default auto-send rules of the demo: 震度5弱 and
// above in a demo area asks everyone registered in that area; a tsunami
// warning (or major warning) for a demo coast asks everyone registered on
// that coast. Both opt in to drills (訓練 documents give drill surveys,
// labelled as such) and tell the administrator of what they did. A third
// asks the Sendai office from 震度3 in 宮城県中部 (222): real JMA documents
// that reach 震度5弱 in a demo area are rare, and with it a newcomer can
// feed a real one (the 震源・震度情報 of 2021-02-17 14:08, 震度3 there) at
// /admin/feed and see a survey start.
func demoRules() ([]*anpi.RuleRecord, error) {
	specs := []struct {
		id, name string
		spec     map[string]any
	}{
		{"quake-offices", "震度5弱以上（事業所のある地域）", map[string]any{
			"kind":       "earthquake",
			"earthquake": map[string]any{"threshold": "5-", "areas": demoQuakeAreas},
			"admins":     []string{string(adminID)},
			"options":    map[string]any{"drill": true, "suppress": "6h", "unreceived": "count"},
		}},
		{"sendai-3", "デモ: 宮城県中部で震度3以上（実際の気象庁XMLで試すため）", map[string]any{
			"kind":       "earthquake",
			"earthquake": map[string]any{"threshold": "3", "areas": []string{"222"}},
			"admins":     []string{string(adminID)},
			"options":    map[string]any{"drill": true, "suppress": "6h"},
		}},
		{"tsunami-coasts", "津波警報・大津波警報（事業所のある沿岸）", map[string]any{
			"kind":    "tsunami",
			"tsunami": map[string]any{"kinds": []string{"major", "warning"}, "regions": demoTsunamiRegions},
			"admins":  []string{string(adminID)},
			"options": map[string]any{"drill": true},
		}},
	}
	var out []*anpi.RuleRecord
	var all []rules.Rule
	for _, s := range specs {
		s.spec["id"], s.spec["name"] = s.id, s.name
		b, err := json.Marshal(s.spec)
		if err != nil {
			return nil, err
		}
		var r rules.Rule
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("rule %s: %w", s.id, err)
		}
		all = append(all, r)
		out = append(out, &anpi.RuleRecord{ID: s.id, Name: s.name, Enabled: true, Spec: b, UpdatedBy: adminID})
	}
	if err := rules.Validate(all); err != nil {
		return nil, err
	}
	return out, nil
}

// seedAdmin fills an empty production store with its administrator only
// (SystemAdmin and CrisisManager, company-wide, with no contact) in a
// top department, so that someone can log in and import the directory.
func seedAdmin(ctx context.Context, st anpi.Store, now time.Time) error {
	return st.InTx(ctx, func(tx anpi.Tx) error {
		if err := tx.CreateDepartment(ctx, &anpi.Department{ID: "hq", Name: "本社"}); err != nil {
			return fmt.Errorf("seed: department: %w", err)
		}
		u := &anpi.User{ID: adminID, EmployeeCode: "admin", Name: "管理者", Departments: []anpi.DepartmentID{"hq"},
			Status: anpi.Active, Locale: anpi.Japanese, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("seed: administrator: %w", err)
		}
		return grantAdmin(ctx, tx)
	})
}

// grantAdmin gives the administrator his company-wide roles.
func grantAdmin(ctx context.Context, tx anpi.Tx) error {
	for _, role := range []anpi.Role{anpi.SystemAdmin, anpi.CrisisManager} {
		if err := tx.GrantRole(ctx, anpi.RoleGrant{UserID: adminID, Role: role}); err != nil {
			return fmt.Errorf("seed: grant %s: %w", role, err)
		}
	}
	return nil
}

// seedDemo fills an empty store with the demo organisation, in one
// transaction (a crash leaves nothing half-seeded): a department tree,
// n users (the first is the administrator) spread over the offices, each
// registered in his office's quake area and, on the coast, its tsunami
// region, each with a private email at example.jp; the administrator's
// grants (SystemAdmin and CrisisManager, company-wide); the default
// auto-send rules. The administrator logs in, and is mailed, at adminEmail.
// The random draws are fixed by seed.
func seedDemo(ctx context.Context, st anpi.Store, n int, seed uint64, now time.Time, adminEmail string) error {
	if n < 1 {
		return fmt.Errorf("seed: want at least 1 demo user, got %d", n)
	}
	rs, err := demoRules()
	if err != nil {
		return fmt.Errorf("seed: default rules: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	depts := []*anpi.Department{
		{ID: "hq", Name: "株式会社デモ"},
		{ID: "sales", Name: "営業本部", ParentID: "hq", Order: 1},
		{ID: "tokyo-sales", Name: "東京営業部", ParentID: "sales", Order: 1},
		{ID: "yokohama", Name: "横浜支店", ParentID: "sales", Order: 2},
		{ID: "osaka", Name: "大阪支店", ParentID: "sales", Order: 3},
		{ID: "sendai", Name: "仙台支店", ParentID: "sales", Order: 4},
		{ID: "dev", Name: "開発本部", ParentID: "hq", Order: 2},
		{ID: "tokyo-dev", Name: "アプリ開発部", ParentID: "dev", Order: 1},
		{ID: "tama-lab", Name: "多摩研究所", ParentID: "dev", Order: 2},
		{ID: "admin-div", Name: "管理本部", ParentID: "hq", Order: 3},
		{ID: "general-affairs", Name: "総務部", ParentID: "admin-div", Order: 1},
	}
	family := []string{"佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"}
	given := []string{"太郎", "花子", "健太", "美咲", "翔", "陽菜", "大輔", "結衣", "拓也", "さくら"}
	return st.InTx(ctx, func(tx anpi.Tx) error {
		for _, d := range depts {
			if err := tx.CreateDepartment(ctx, d); err != nil {
				return fmt.Errorf("seed: department %s: %w", d.ID, err)
			}
		}
		for i := range n {
			o := demoOffices[rng.IntN(len(demoOffices))]
			id := anpi.UserID(fmt.Sprintf("u%04d", i))
			u := &anpi.User{
				ID:           id,
				EmployeeCode: fmt.Sprintf("E%05d", i),
				Name:         family[rng.IntN(len(family))] + " " + given[rng.IntN(len(given))],
				Departments:  []anpi.DepartmentID{o.dept},
				Regions:      []anpi.Region{{Kind: anpi.QuakeArea, Code: o.quake}},
				Status:       anpi.Active,
				Locale:       anpi.Japanese,
				CreatedAt:    now,
				UpdatedAt:    now,
			}
			if o.tsunami != "" {
				u.Regions = append(u.Regions, anpi.Region{Kind: anpi.TsunamiRegion, Code: o.tsunami})
			}
			addr := string(id) + "@example.jp"
			if i == 0 {
				u.ID, u.Name, u.Departments = adminID, "管理 者", []anpi.DepartmentID{"general-affairs"}
				u.Regions = []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}, {Kind: anpi.TsunamiRegion, Code: "312"}}
				addr = adminEmail
			}
			if err := tx.CreateUser(ctx, u); err != nil {
				return fmt.Errorf("seed: user %s: %w", u.ID, err)
			}
			c := &anpi.Contact{ID: anpi.ContactID("c-" + string(u.ID)), UserID: u.ID, Kind: anpi.EmailContact,
				Scope: anpi.PrivateScope, Address: addr, CreatedAt: now}
			if err := tx.PutContact(ctx, c); err != nil {
				return fmt.Errorf("seed: contact of %s: %w", u.ID, err)
			}
		}
		if err := grantAdmin(ctx, tx); err != nil {
			return err
		}
		for _, r := range rs {
			r.UpdatedAt = now
			if err := tx.PutRule(ctx, r); err != nil {
				return fmt.Errorf("seed: rule %s: %w", r.ID, err)
			}
		}
		return nil
	})
}
