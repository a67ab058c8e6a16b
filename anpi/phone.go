package anpi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
)

// Answers that arrive by telephone or LINE carry no token: an SMS reply
// names only the number it came from, a key press only the call, a LINE
// answer button only the LINE user (and the survey its message named). The
// Service finds the person from the surveys' SMS, voice and LINE
// deliveries. An index per survey (number → user, call → user, LINE user →
// user) is built from the deliveries on the first answer and rebuilt when
// an answer does not match it (a delivery sent since, or one sent by
// another replica), so a burst of answers costs one read of each survey's
// deliveries, not one per answer.

// phoneIndex maps the phone numbers, calls and LINE users a survey reached
// to its users.
type phoneIndex struct {
	numbers map[string]UserID // E.164 number of a Sent or Delivered SMS → user
	calls   map[string]UserID // ProviderID (call SID) of a Sent or Delivered call → user
	line    map[string]UserID // LINE user ID of a Sent or Delivered LINE message → user
}

// phoneIndexes caches a phoneIndex per survey.
type phoneIndexes struct {
	mu sync.Mutex
	m  map[SurveyID]*phoneIndex
}

// AnswerBySMS records the answer choice (an answer code of the survey form's
// 本人 question, e.g. from twilio.ParseReply) of the person who replied by SMS
// from the number from (E.164). The answer goes to the most recent open
// survey whose SMS reached that number. NotFound when none did.
func (s *Service) AnswerBySMS(ctx context.Context, from, choice string) (*Response, error) {
	from = strings.TrimSpace(from)
	if from == "" {
		return nil, Errorf(InvalidArgument, "anpi: answer by SMS: the sender's number is empty")
	}
	return s.answerByPhone(ctx, "SMS from "+from, choice, ViaSMS, func(ix *phoneIndex) (UserID, bool) {
		u, ok := ix.numbers[from]
		return u, ok
	})
}

// AnswerByCall records the answer choice of the person who pressed a key
// during the call callSID (the Receipt.ProviderID of a voice delivery, which
// Twilio's <Gather> callback names). NotFound when no open survey made that
// call.
func (s *Service) AnswerByCall(ctx context.Context, callSID, choice string) (*Response, error) {
	if callSID == "" {
		return nil, Errorf(InvalidArgument, "anpi: answer by call: the call is empty")
	}
	return s.answerByPhone(ctx, "call "+callSID, choice, ViaVoice, func(ix *phoneIndex) (UserID, bool) {
		u, ok := ix.calls[callSID]
		return u, ok
	})
}

// AnswerByLINE records the answer choice (an answer code of the survey
// form's 本人 question) of the LINE user lineUserID, who pressed an answer
// button of a message of survey (the survey the message's data named;
// LINE's signature on the webhook vouches for the user). The person is the
// recipient whose LINE message reached that LINE user. NotFound when the
// survey reached no one there; an empty survey means the most recent open
// survey that did.
func (s *Service) AnswerByLINE(ctx context.Context, survey SurveyID, lineUserID, choice string) (*Response, error) {
	if lineUserID == "" {
		return nil, Errorf(InvalidArgument, "anpi: answer by LINE: the LINE user is empty")
	}
	var only []SurveyID
	if survey != "" {
		only = []SurveyID{survey}
	}
	return s.answerByReach(ctx, "LINE user "+LINEUserRef(lineUserID), choice, ViaLINE, only, func(ix *phoneIndex) (UserID, bool) {
		u, ok := ix.line[lineUserID]
		return u, ok
	})
}

// LINEUserRef names a LINE user in logs and errors without his LINE user
// ID, which is a private address: 12 hex digits of its SHA-256.
func LINEUserRef(lineUserID string) string {
	h := sha256.Sum256([]byte(lineUserID))
	return hex.EncodeToString(h[:6])
}

// answerByPhone finds the person in the open surveys, newest first, and
// records the answer with AnswerAs.
func (s *Service) answerByPhone(ctx context.Context, what, choice string, via ResponseChannel, find func(*phoneIndex) (UserID, bool)) (*Response, error) {
	return s.answerByReach(ctx, what, choice, via, nil, find)
}

// answerByReach finds the person in the surveys only names (in the open
// surveys, newest first, when it is empty) and records the answer with
// AnswerAs.
func (s *Service) answerByReach(ctx context.Context, what, choice string, via ResponseChannel, only []SurveyID, find func(*phoneIndex) (UserID, bool)) (*Response, error) {
	if choice == "" {
		return nil, Errorf(InvalidArgument, "anpi: answer by %s: no answer", what)
	}
	var svs []*Survey
	if len(only) > 0 {
		for _, id := range only {
			sv, err := s.st.GetSurvey(ctx, id)
			if err != nil {
				return nil, err
			}
			svs = append(svs, sv)
		}
	} else {
		var err error
		if svs, err = s.st.ListSurveys(ctx, &SurveyQuery{Status: Open}); err != nil {
			return nil, err
		}
	}
	for _, sv := range svs {
		if sv.Kind == ContactCheckSurvey {
			continue
		}
		for rebuilt := false; ; rebuilt = true {
			ix, err := s.phones.get(ctx, s, sv.ID, rebuilt)
			if err != nil {
				return nil, err
			}
			if u, ok := find(ix); ok {
				return s.AnswerAs(ctx, sv.ID, u, []Answer{{QuestionID: QuestionSelf, Choices: []string{choice}}}, via)
			}
			if rebuilt {
				break
			}
		}
	}
	if len(only) > 0 {
		return nil, Errorf(NotFound, "anpi: answer by %s: survey %s did not reach it", what, only[0])
	}
	return nil, Errorf(NotFound, "anpi: answer by %s: no open survey reached it", what)
}

// get returns the index of survey id, building it when missing or when
// rebuild is set.
func (p *phoneIndexes) get(ctx context.Context, s *Service, id SurveyID, rebuild bool) (*phoneIndex, error) {
	p.mu.Lock()
	ix := p.m[id]
	p.mu.Unlock()
	if ix != nil && !rebuild {
		return ix, nil
	}
	ix, err := s.buildPhoneIndex(ctx, id)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.m == nil {
		p.m = map[SurveyID]*phoneIndex{}
	}
	p.m[id] = ix
	p.mu.Unlock()
	return ix, nil
}

// buildPhoneIndex reads a survey's deliveries and, for those reached by SMS,
// the numbers they went to.
func (s *Service) buildPhoneIndex(ctx context.Context, id SurveyID) (*phoneIndex, error) {
	ds, err := s.st.Deliveries(ctx, id)
	if err != nil {
		return nil, err
	}
	ix := &phoneIndex{numbers: map[string]UserID{}, calls: map[string]UserID{}, line: map[string]UserID{}}
	// A fallback delivery names no contact: every phone (LINE account) of
	// a user reached by SMS (LINE) is indexed.
	reached := map[UserID]map[Channel]bool{}
	var users []UserID // reached by SMS or LINE
	for _, d := range ds {
		if d.State != Sent && d.State != Delivered || d.Round < 0 {
			continue
		}
		switch d.Channel {
		case VoiceChannel:
			if d.ProviderID != "" {
				ix.calls[d.ProviderID] = d.UserID
			}
		case SMSChannel, LINEChannel:
			if reached[d.UserID] == nil {
				reached[d.UserID] = map[Channel]bool{}
				users = append(users, d.UserID)
			}
			reached[d.UserID][d.Channel] = true
		}
	}
	if len(users) == 0 {
		return ix, nil
	}
	contacts, err := s.st.ContactsOf(ctx, users)
	if err != nil {
		return nil, err
	}
	for u, cs := range contacts {
		for _, c := range cs {
			switch {
			case c.Address == "" || c.UserID != u || c.Scope == FamilyScope: // never sent to
			case c.Kind == PhoneContact && reached[u][SMSChannel]:
				ix.numbers[c.Address] = u
			case c.Kind == LINEContact && reached[u][LINEChannel]:
				ix.line[c.Address] = u
			}
		}
	}
	return ix, nil
}
