package anpi

import (
	"context"
	"strings"
	"sync"
)

// Answers that arrive by telephone carry no token: an SMS reply names only
// the number it came from, a key press only the call. The Service finds the
// person from the open surveys' SMS and voice deliveries. An index per
// survey (number → user, call → user) is built from the deliveries on the
// first reply and rebuilt when a reply does not match it (a delivery sent
// since, or one sent by another replica), so a burst of replies costs one
// read of each survey's deliveries, not one per reply.

// phoneIndex maps a survey's reached phone numbers and calls to its users.
type phoneIndex struct {
	numbers map[string]UserID // E.164 number of a Sent or Delivered SMS → user
	calls   map[string]UserID // ProviderID (call SID) of a Sent or Delivered call → user
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

// answerByPhone finds the person in the open surveys, newest first, and
// records the answer with AnswerAs.
func (s *Service) answerByPhone(ctx context.Context, what, choice string, via ResponseChannel, find func(*phoneIndex) (UserID, bool)) (*Response, error) {
	if choice == "" {
		return nil, Errorf(InvalidArgument, "anpi: answer by %s: no answer", what)
	}
	svs, err := s.st.ListSurveys(ctx, &SurveyQuery{Status: Open})
	if err != nil {
		return nil, err
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
	ix := &phoneIndex{numbers: map[string]UserID{}, calls: map[string]UserID{}}
	var smsUsers []UserID
	for _, d := range ds {
		if d.State != Sent && d.State != Delivered || d.Round < 0 {
			continue
		}
		switch d.Channel {
		case VoiceChannel:
			if d.ProviderID != "" {
				ix.calls[d.ProviderID] = d.UserID
			}
		case SMSChannel:
			smsUsers = append(smsUsers, d.UserID)
		}
	}
	if len(smsUsers) == 0 {
		return ix, nil
	}
	// A fallback delivery names no contact: take every phone of the user.
	contacts, err := s.st.ContactsOf(ctx, smsUsers)
	if err != nil {
		return nil, err
	}
	for u, cs := range contacts {
		for _, c := range cs {
			if c.Kind == PhoneContact && c.Address != "" {
				ix.numbers[c.Address] = u
			}
		}
	}
	return ix, nil
}
