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

// memoSize is how many entries one generation of a memo holds: a memo
// keeps between one and two generations, enough for a survey of 100,000
// recipients and its reminders (a few tens of MB at most).
const memoSize = 1 << 17

// memo is a bounded map of what the Service made or read lately: when the
// current generation is full it becomes the old one, and the old one is
// dropped. Its users never depend on finding an entry: a forgotten one is
// read or made again.
type memo[K comparable, V any] struct {
	mu       sync.Mutex
	cur, old map[K]V
}

func (m *memo[K, V]) get(k K) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.cur[k]; ok {
		return v, true
	}
	v, ok := m.old[k]
	return v, ok
}

// take is get, and forgets the entry.
func (m *memo[K, V]) take(k K) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.cur[k]; ok {
		delete(m.cur, k)
		return v, true
	}
	v, ok := m.old[k]
	if ok {
		delete(m.old, k)
	}
	return v, ok
}

func (m *memo[K, V]) put(k K, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(k, v)
}

func (m *memo[K, V]) putAll(ks []K, vs []V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range ks {
		m.putLocked(k, vs[i])
	}
}

func (m *memo[K, V]) putLocked(k K, v V) {
	if m.cur == nil || len(m.cur) >= memoSize {
		m.old, m.cur = m.cur, make(map[K]V, 1024)
	}
	m.cur[k] = v
}

// tokenMemo remembers the answer tokens the Service made or read lately,
// so that an answer through a link costs no read of the token: the store
// checks in the answer's own transaction that the token is still usable
// (Response.ViaToken), so the memo never has to know about revocations or
// expiry, and a token it forgot is read again.
type tokenMemo = memo[TokenHash, tokenNote]

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
