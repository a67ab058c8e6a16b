package anpi

import (
	"sync"
	"time"
)

// tokenNote is what the Service remembers of an answer token: whom and
// what it answers for, which never changes for a token, and the
// recipient's language as it was when the token was made or read.
type tokenNote struct {
	survey SurveyID
	user   UserID
	locale Locale
}

// tokenMemoSize is how many tokens one generation of a tokenMemo holds:
// the memo keeps between one and two generations, about 35 MB at most,
// enough for a survey of 100,000 recipients and its reminders.
const tokenMemoSize = 1 << 17

// tokenMemo remembers the answer tokens the Service made or read lately,
// so that an answer through a link costs no read of the token: the store
// checks in the answer's own transaction that the token is still usable
// (Response.ViaToken), so the memo never has to know about revocations or
// expiry, and a token it forgot is read again. It is bounded: when the
// current generation is full it becomes the old one, and the old one is
// dropped.
type tokenMemo struct {
	mu       sync.Mutex
	cur, old map[TokenHash]tokenNote
}

func (m *tokenMemo) get(h TokenHash) (tokenNote, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.cur[h]; ok {
		return n, true
	}
	n, ok := m.old[h]
	return n, ok
}

func (m *tokenMemo) put(h TokenHash, n tokenNote) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(h, n)
}

func (m *tokenMemo) putAll(hs []TokenHash, ns []tokenNote) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, h := range hs {
		m.putLocked(h, ns[i])
	}
}

func (m *tokenMemo) putLocked(h TokenHash, n tokenNote) {
	if m.cur == nil || len(m.cur) >= tokenMemoSize {
		m.old, m.cur = m.cur, make(map[TokenHash]tokenNote, 1024)
	}
	m.cur[h] = n
}

// surveyMemoTTL is how long the Service answers from a survey it read: the
// form a posted answer is parsed against. Whether the survey is still open
// is checked again by the store when the answer is recorded.
const surveyMemoTTL = time.Second

// surveyMemo remembers the surveys answers were given to lately, each for
// surveyMemoTTL after it was read (on the Service's clock).
type surveyMemo struct {
	mu sync.Mutex
	m  map[SurveyID]surveyRead
}

type surveyRead struct {
	sv *Survey // never changed: callers get clones
	at time.Time
}

func (m *surveyMemo) get(id SurveyID, now time.Time) *Survey {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.m[id]
	if !ok || now.Before(r.at) || now.Sub(r.at) >= surveyMemoTTL {
		return nil
	}
	return r.sv
}

func (m *surveyMemo) put(sv *Survey, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[SurveyID]surveyRead{}
	}
	for id, r := range m.m { // few surveys take answers at once
		if now.Sub(r.at) >= surveyMemoTTL {
			delete(m.m, id)
		}
	}
	m.m[sv.ID] = surveyRead{sv: sv, at: now}
}
