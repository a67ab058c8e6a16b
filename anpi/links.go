package anpi

import "time"

// minted is the answer links made for the deliveries of one fan-out chunk,
// stored in the chunk's transaction.
type minted struct {
	tokens []*AnswerToken
	ids    []DeliveryID // the delivery each link is for
	texts  []string     // each link's token text (never stored)
	notes  []tokenNote
}

// mintLink makes the answer link of d, a first delivery to u in sv, and
// adds it to m: a short token for SMS, none for a voice call (answered by
// key presses), expiring with the survey.
func (s *Service) mintLink(m *minted, sv *Survey, u *User, d *Delivery, now time.Time) error {
	if d.Channel == VoiceChannel {
		return nil
	}
	newToken := s.newToken
	if d.Channel == SMSChannel {
		newToken = s.newShortToken
	}
	text, h, err := newToken()
	if err != nil {
		return err
	}
	m.tokens = append(m.tokens, &AnswerToken{Hash: h, SurveyID: sv.ID, UserID: u.ID, CreatedAt: now, ExpiresAt: sv.Deadline})
	m.ids = append(m.ids, d.ID)
	m.texts = append(m.texts, text)
	m.notes = append(m.notes, tokenNote{survey: sv.ID, user: u.ID, locale: localeOf(u)})
	return nil
}

// keepLinks remembers the links of a committed chunk: their texts, for
// rendering their deliveries without making and storing new ones, and
// their tokens, for the answers that come through them. A link this
// Service forgot (or another replica's delivery) is made afresh by Render.
func (s *Service) keepLinks(m *minted) {
	if len(m.ids) == 0 {
		return
	}
	s.links.putAll(m.ids, m.texts)
	hs := make([]TokenHash, len(m.tokens))
	for i, t := range m.tokens {
		hs[i] = t.Hash
	}
	s.tokens.putAll(hs, m.notes)
}

// takeLink returns the text of the link made for d when it was enqueued,
// if this Service still has it, and forgets it: a delivery rendered again
// (a retry) gets a new link, as before.
func (s *Service) takeLink(d *Delivery) (string, bool) {
	if d.Round != 0 {
		return "", false
	}
	return s.links.take(d.ID)
}
