package anpi

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// TokenInfo is what an answer link leads to: the answer page shows the
// survey's form to the recipient, with his current answer.
type TokenInfo struct {
	Survey *Survey // the survey the link answers, its form included
	UserID UserID  // whom the link answers for
	// User is the recipient's directory record; nil when he was deleted
	// since.
	User *User
	// Response is his current answer; nil before the first.
	Response *Response
	// Open reports whether the survey takes answers now.
	Open bool
	// Locale is the language of his pages: his User's, Japanese when he
	// has none.
	Locale Locale
}

// localeOf is the language of u's pages.
func localeOf(u *User) Locale {
	if u != nil && u.Locale.Valid() {
		return u.Locale
	}
	return Japanese
}

// errUnknownToken is the one answer to every token that does not work:
// malformed, unknown, expired and revoked tokens are alike to the caller, so
// a prober learns nothing from the difference.
func errUnknownToken() error {
	return Errorf(NotFound, "anpi: answer link is unknown or no longer valid")
}

// answerable returns nil when sv takes answers at now: it is Open and its
// deadline, if any, has not passed. Otherwise FailedPrecondition.
func answerable(sv *Survey, now time.Time) error {
	if sv.Status != Open {
		return Errorf(FailedPrecondition, "anpi: survey %s is %s: it takes no answers", sv.ID, sv.Status)
	}
	if !sv.Deadline.IsZero() && !now.Before(sv.Deadline) {
		return Errorf(FailedPrecondition, "anpi: survey %s closed for answers at %s", sv.ID, sv.Deadline.In(jst).Format("2006-01-02 15:04 MST"))
	}
	return nil
}

// tokenIn looks token up in tx: NotFound unless it is well-formed, stored
// and usable at now.
func tokenIn(ctx context.Context, tx Tx, token string, now time.Time) (*AnswerToken, error) {
	h, err := HashAnswerToken(token)
	if err != nil {
		return nil, errUnknownToken()
	}
	t, err := tx.AnswerToken(ctx, h)
	if legacy, ok := legacyTokenHash(token); ok && Code(err) == NotFound {
		t, err = tx.AnswerToken(ctx, legacy) // a link sent before tokens had locators
	}
	if Code(err) == NotFound {
		return nil, errUnknownToken()
	}
	if err != nil {
		return nil, fmt.Errorf("anpi: look up answer token: %w", err)
	}
	if !t.Usable(now) {
		return nil, errUnknownToken()
	}
	return t, nil
}

// answerTokenIn is tokenIn for an answer link: the tokens of invitations
// and of LINE account linking, kept as answer tokens of surveys of their
// own (see invite.go), open no answer page and record no answer; they are
// NotFound like any unknown token.
func answerTokenIn(ctx context.Context, tx Tx, token string, now time.Time) (*AnswerToken, error) {
	t, err := tokenIn(ctx, tx, token, now)
	if err != nil {
		return nil, err
	}
	if t.SurveyID == invitationSurvey || t.SurveyID == lineLinkSurvey {
		return nil, errUnknownToken()
	}
	return t, nil
}

// LookupToken returns what an answer link leads to, for the answer page's
// GET. It records nothing (mail scanners open links). A malformed, unknown,
// expired or revoked token is NotFound, all with the same message. A survey
// that no longer takes answers is returned with Open false.
func (s *Service) LookupToken(ctx context.Context, token string) (*TokenInfo, error) {
	now := s.now()
	var info *TokenInfo
	err := s.st.ReadTx(ctx, func(tx Tx) error {
		t, err := answerTokenIn(ctx, tx, token, now)
		if err != nil {
			return err
		}
		sv, err := tx.GetSurvey(ctx, t.SurveyID)
		if err != nil {
			return err
		}
		info = &TokenInfo{Survey: sv, UserID: t.UserID, Open: answerable(sv, now) == nil}
		if info.User, err = tx.GetUser(ctx, t.UserID); Code(err) == NotFound {
			info.User = nil
		} else if err != nil {
			return err
		}
		if info.Response, err = tx.GetResponse(ctx, sv.ID, t.UserID); Code(err) == NotFound {
			info.Response = nil
		} else if err != nil {
			return err
		}
		info.Locale = localeOf(info.User)
		s.tokens.put(t.Hash, tokenNote{survey: sv.ID, user: t.UserID, locale: info.Locale})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return info, nil
}

// AnswerByToken records an answer given through an answer link. The token
// must be well-formed, stored, not expired and not revoked (NotFound
// otherwise, the same for every case); the survey must take answers
// (FailedPrecondition); the answers must fit the survey's form
// (InvalidArgument, naming the question). Answering again replaces the
// current answer, the earlier one kept in the history, and the tally moves
// in the same transaction. An empty via means ViaWeb. The returned response
// is the one stored, FirstAt included. The answer to a contact check's link
// also records the contact's check state (see ConfirmContact).
//
// An answer to a safety survey is recorded through Store.RecordResponse,
// which shares its commit with the answers given at the same moment (the
// SQLite store's group committer: about 20,000 durable answers a second,
// against a few thousand with a transaction each), and which checks in that
// same transaction that the token is still usable (Response.ViaToken): the
// Service reads a token it made or read lately from its memory, not from
// the store, so a link costs no read before the write. The survey's form
// is as read at most a second earlier; whether the survey is still open is
// the store's to check when it records. An answer to a contact check
// writes the contact's state too, in one transaction.
func (s *Service) AnswerByToken(ctx context.Context, token string, answers []Answer, via ResponseChannel) (*Response, error) {
	info, out, err := s.answerByToken(ctx, token, via, func(*TokenInfo) ([]Answer, error) { return answers, nil })
	if err != nil {
		return nil, err
	}
	if out != nil {
		return out, nil
	}
	return s.st.GetResponse(ctx, info.Survey.ID, info.UserID)
}

// SubmitAnswer records the answer of an answer page's POST, as
// AnswerByToken does, for callers whose answers depend on the survey: build
// gets what the token leads to (the survey's form, to parse a posted form
// against) and returns the answers, or an error that SubmitAnswer returns
// as it is. The stored response is not read back: a page redirects to
// where it is shown. The TokenInfo passed to build, and returned with any
// error that comes after the token was found, has no User and no Response;
// its Survey, as read at most a second earlier, must not be changed, and
// Open says whether that survey takes answers (SubmitAnswer then returns
// FailedPrecondition without calling build when it does not). Errors are
// those of AnswerByToken, classified the same way.
func (s *Service) SubmitAnswer(ctx context.Context, token string, via ResponseChannel, build func(*TokenInfo) ([]Answer, error)) (*TokenInfo, error) {
	if build == nil {
		return nil, Errorf(InvalidArgument, "anpi: submit answer: nil build function")
	}
	info, _, err := s.answerByToken(ctx, token, via, build)
	return info, err
}

// answerByToken is AnswerByToken and SubmitAnswer: it records the answers
// build returns for the target of token. out is the stored response when
// the answer went through a transaction that read it anyway (a contact
// check's), nil otherwise.
func (s *Service) answerByToken(ctx context.Context, token string, via ResponseChannel, build func(*TokenInfo) ([]Answer, error)) (info *TokenInfo, out *Response, err error) {
	now := s.now()
	info, h, err := s.tokenTarget(ctx, token, now)
	if err != nil {
		return nil, nil, err
	}
	if err := answerable(info.Survey, now); err != nil {
		return info, nil, err
	}
	answers, err := build(info)
	if err != nil {
		return info, nil, err
	}
	id, err := s.newResponseID()
	if err != nil {
		return info, nil, err
	}
	if info.Survey.Kind == ContactCheckSurvey {
		err = s.st.InTx(ctx, func(tx Tx) error {
			t, err := answerTokenIn(ctx, tx, token, now)
			if err != nil {
				return err
			}
			if out, err = record(ctx, tx, id, t.SurveyID, t.UserID, answers, via, now); err != nil {
				return err
			}
			_, err = s.contactCheckAnswered(ctx, tx, t, token, out, now)
			return err
		})
		if err != nil {
			return info, nil, err
		}
		return info, out, nil
	}
	r, err := newResponse(id, info.Survey, info.UserID, answers, via, now)
	if err != nil {
		return info, nil, err
	}
	r.ViaToken = &h
	if _, err := s.st.RecordResponse(ctx, r); Code(err) == NotFound {
		// The token was revoked or expired after it was remembered (or
		// its survey or recipient is gone): a link that no longer works.
		return info, nil, errUnknownToken()
	} else if err != nil {
		return info, nil, err
	}
	return info, nil, nil
}

// tokenTarget returns what token answers for, with its survey and the
// recipient's Locale (no User, no Response), and the token's hash. The
// token's survey and user come from the Service's memory when it made or
// read the token lately, else from a read of the store (NotFound unless the
// token is usable at now); the survey from a read at most surveyMemoTTL
// old. A token found in memory may have been revoked or have expired since:
// the store's check when the answer is recorded (Response.ViaToken) is the
// one that counts.
func (s *Service) tokenTarget(ctx context.Context, token string, now time.Time) (*TokenInfo, TokenHash, error) {
	h, err := HashAnswerToken(token)
	if err != nil {
		return nil, h, errUnknownToken()
	}
	n, ok := s.tokens.get(h)
	sv := s.answered.get(n.survey, now)
	if !ok || sv == nil {
		err := s.st.ReadTx(ctx, func(tx Tx) error {
			t, err := answerTokenIn(ctx, tx, token, now)
			if err != nil {
				return err
			}
			h = t.Hash // a link made before locators is stored under its legacy hash
			if sv, err = tx.GetSurvey(ctx, t.SurveyID); err != nil {
				return err
			}
			if !ok {
				u, err := tx.GetUser(ctx, t.UserID)
				if err != nil && Code(err) != NotFound {
					return err
				}
				n = tokenNote{survey: t.SurveyID, user: t.UserID, locale: localeOf(u)}
			}
			return nil
		})
		if err != nil {
			return nil, h, err
		}
		if !ok {
			s.tokens.put(h, n)
		}
		s.answered.put(sv, now)
	}
	return &TokenInfo{Survey: sv, UserID: n.user, Open: answerable(sv, now) == nil, Locale: n.locale}, h, nil
}

// AnswerAs records an answer for user in survey when the caller has
// authenticated the person some other way: a LINE postback, a key pressed
// during a voice call, an administrator entering what he was told on the
// phone (ViaAdmin). A user who is not a recipient is NotFound; otherwise it
// behaves as AnswerByToken.
func (s *Service) AnswerAs(ctx context.Context, survey SurveyID, user UserID, answers []Answer, via ResponseChannel) (*Response, error) {
	now := s.now()
	id, err := s.newResponseID()
	if err != nil {
		return nil, err
	}
	var out *Response
	err = s.st.InTx(ctx, func(tx Tx) error {
		if _, err := tx.GetRecipient(ctx, survey, user); err != nil {
			return err
		}
		out, err = record(ctx, tx, id, survey, user, answers, via, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// record validates and records one answer in tx.
func record(ctx context.Context, tx Tx, id ResponseID, survey SurveyID, user UserID, answers []Answer, via ResponseChannel, now time.Time) (*Response, error) {
	sv, err := tx.GetSurvey(ctx, survey)
	if err != nil {
		return nil, err
	}
	r, err := newResponse(id, sv, user, answers, via, now)
	if err != nil {
		return nil, err
	}
	if _, err := tx.RecordResponse(ctx, r); err != nil {
		return nil, err
	}
	return tx.GetResponse(ctx, survey, user)
}

// newResponse builds the response of user to sv, checking that sv takes
// answers and that they fit its form.
func newResponse(id ResponseID, sv *Survey, user UserID, answers []Answer, via ResponseChannel, now time.Time) (*Response, error) {
	if err := answerable(sv, now); err != nil {
		return nil, err
	}
	if via == "" {
		via = ViaWeb
	}
	r := &Response{ID: id, SurveyID: sv.ID, UserID: user, Answers: slices.Clone(answers), Channel: via, At: now}
	r = r.Clone() // deep copy of the choices: the caller's slices stay his
	if err := r.Validate(sv.Form); err != nil {
		return nil, Errorf(InvalidArgument, "anpi: answer survey %s: %w", sv.ID, err)
	}
	return r, nil
}

// newResponseID returns a fresh response ID from the Service's randomness.
func (s *Service) newResponseID() (ResponseID, error) {
	h, err := s.randomHex(16)
	if err != nil {
		return "", err
	}
	return ResponseID("rsp-" + h), nil
}
