package anpi

import "time"

// Handoff takes deliveries straight from the transaction that enqueues
// them, so that they are sent without being claimed from the store (see
// Options.Handoff; dispatch.Handoff is one).
type Handoff interface {
	// Lease reports whether a delivery on channel c enqueued now is to be
	// leased to the Handoff (ok), with the lease's owner and end. A
	// delivery so leased is handed over by Hand once committed.
	Lease(c Channel, now time.Time) (owner string, until time.Time, ok bool)
	// Hand gives the Handoff deliveries leased to it, once committed.
	Hand(ds []*Delivery)
}

// minted is what the Service keeps of one fan-out chunk, stored in the
// chunk's transaction: the answer links made for its deliveries, the users
// and contacts it read, and the deliveries leased to the Handoff.
type minted struct {
	tokens   []*AnswerToken
	ids      []DeliveryID // the delivery each link is for
	texts    []string     // each link's token text (never stored)
	notes    []tokenNote
	users    []*User // the user of each link
	contacts map[UserID][]*Contact
	gen      uint64      // Service.contactGen when contacts were read
	handed   []*Delivery // leased to the Handoff, handed once committed
}

// keptLink is what the Service keeps of a delivery a fan-out enqueued, for
// its first render: its link, and its user and contacts as the fan-out
// read them (the contacts only if the Service wrote no contact since).
type keptLink struct {
	text     string
	user     *User
	contacts []*Contact
	gen      uint64
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
	m.users = append(m.users, u)
	return nil
}

// leaseToHandoff leases d, a queued delivery about to be enqueued, to the
// Handoff if it takes d's channel now, and reports whether it did: the
// caller hands d over once its transaction commits.
func (s *Service) leaseToHandoff(d *Delivery, now time.Time) bool {
	if s.handoff == nil || d.State != Queued {
		return false
	}
	owner, until, ok := s.handoff.Lease(d.Channel, now)
	if !ok {
		return false
	}
	d.State, d.Attempts, d.LeaseOwner, d.LeaseUntil = Sending, 1, owner, until
	return true
}

// keepLinks remembers what a committed chunk made: its links' texts with
// their users and contacts, for rendering their deliveries without
// reading or writing the store, and their tokens, for the answers that
// come through them; then it hands the chunk's leased deliveries to the
// Handoff. A link this Service forgot (or another replica's delivery) is
// made afresh by Render.
func (s *Service) keepLinks(m *minted) {
	if len(m.ids) > 0 {
		ks := make([]keptLink, len(m.ids))
		for i, u := range m.users {
			ks[i] = keptLink{text: m.texts[i], user: u, contacts: m.contacts[u.ID], gen: m.gen}
		}
		s.links.putAll(m.ids, ks)
		hs := make([]TokenHash, len(m.tokens))
		for i, t := range m.tokens {
			hs[i] = t.Hash
		}
		s.tokens.putAll(hs, m.notes)
	}
	if len(m.handed) > 0 {
		s.handoff.Hand(m.handed)
	}
}

// takeLink returns what was kept of d when it was enqueued, if this
// Service still has it, and forgets it: a delivery rendered again (a
// retry) gets a new link, as before.
func (s *Service) takeLink(d *Delivery) (keptLink, bool) {
	if d.Round != 0 {
		return keptLink{}, false
	}
	return s.links.take(d.ID)
}

// contactsChanged notes that the Service wrote a contact: renders no
// longer use the contacts fan-outs read before.
func (s *Service) contactsChanged() { s.contactGen.Add(1) }
