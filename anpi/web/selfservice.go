package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/anpikit/anpi/anpi"
)

// SelfService is what the registration page behind an invitation link
// (/r/{token}) needs of an *anpi.Service. NewAnswerHandler serves /r/ when
// its Service implements it too; other Services (test doubles of the
// answer pages) get the 404 there.
type SelfService interface {
	InvitationView(ctx context.Context, token string) (*anpi.SelfServiceView, error)
	RegisterContact(ctx context.Context, token string, c *anpi.Contact) (*anpi.Contact, error)
	SetInvitationRegions(ctx context.Context, token string, regions []anpi.Region) (*anpi.User, error)
}

// selfPage is what the registration page shows.
type selfPage struct {
	Lang    anpi.Locale
	M       *messages
	S       *selfMessages
	Other   string // the link to the page in the other language
	OtherL  string
	Name    string
	Expires string
	Done    string // the success message after a POST
	Error   string // why a form was refused
	CSRF    string
	Lists   []contactList
	// Kind and Label are the contact form's choices, kept when it is
	// refused (the address is not: a response never shows one whole).
	Kind, Label string
	Kinds       []option
	// Regions is the regions form, shown when the settings allow it.
	MayEditRegions bool
	Regions        string
	Action         string // the forms' action (keeps ?lang)
	RegionsAction  string
	// LINEAction is the LINE link button's action, when Options.LINELinkURL is set.
	LINEAction string
}

type contactList struct {
	Title    string
	Contacts []shownContact
	None     string
}

type shownContact struct {
	Masked, Label, Scope, Status string
	Class                        string // ok, wait, bad
}

// formKind is one choice of the contact form.
type formKind struct {
	value string
	kind  anpi.ContactKind
	scope anpi.ContactScope
}

// formKinds are the contact form's kinds: what a person can type in (the
// app registers its token itself, LINE comes from linking).
func formKinds() []formKind {
	return []formKind{
		{"email", anpi.EmailContact, anpi.PrivateScope},
		{"phone", anpi.PhoneContact, anpi.PrivateScope},
		{"family-email", anpi.EmailContact, anpi.FamilyScope},
		{"family-phone", anpi.PhoneContact, anpi.FamilyScope},
	}
}

// self returns the handler's SelfService, or nil.
func (h *handler) self() SelfService {
	s, _ := h.svc.(SelfService)
	return s
}

// invitation asks the Service about tok and answers the errors as lookup
// does. ok is false when it wrote a response.
func (h *handler) invitation(w http.ResponseWriter, r *http.Request, tok string) (*anpi.SelfServiceView, bool) {
	ss := h.self()
	if tok == "" || ss == nil {
		h.notFound(w, r)
		return nil, false
	}
	v, err := ss.InvitationView(r.Context(), tok)
	if err != nil {
		h.fail(w, r, err, anpi.Japanese)
		return nil, false
	}
	return v, true
}

// selfLocale is the page's locale: ?lang= when valid, else the user's.
func selfLocale(r *http.Request, v *anpi.SelfServiceView) anpi.Locale {
	if l := anpi.Locale(r.URL.Query().Get("lang")); l.Valid() {
		return l
	}
	if v.User.Locale.Valid() {
		return v.User.Locale
	}
	return anpi.Japanese
}

// selfForm builds the page of view v in locale l.
func (h *handler) selfForm(tok string, v *anpi.SelfServiceView, l anpi.Locale) *selfPage {
	s := selfMsgs(l)
	p := &selfPage{Lang: l, M: msgs(l), S: s, Name: v.User.Name, CSRF: h.csrf("r", tok),
		Expires:        v.ExpiresAt.In(japan()).Format("2006-01-02 15:04"),
		MayEditRegions: v.MayEditRegions,
		Action:         "?lang=" + string(l), RegionsAction: tok + "/regions?lang=" + string(l), Kind: "email"}
	if h.line != nil {
		p.LINEAction = tok + "/line?lang=" + string(l)
	}
	other := anpi.English
	if l == anpi.English {
		other = anpi.Japanese
	}
	p.Other, p.OtherL = "?lang="+string(other), msgs(other).LangName
	lists := []struct {
		title string
		kinds []anpi.ContactKind
	}{
		{s.Emails, []anpi.ContactKind{anpi.EmailContact}},
		{s.Phones, []anpi.ContactKind{anpi.PhoneContact}},
		{s.LINE, []anpi.ContactKind{anpi.LINEContact}},
		{s.App, []anpi.ContactKind{anpi.FCMContact, anpi.APNsContact}},
	}
	for _, li := range lists {
		cl := contactList{Title: li.title, None: s.NoneYet}
		for _, c := range v.Contacts {
			if !slices.Contains(li.kinds, c.Kind) {
				continue
			}
			sc := shownContact{Masked: c.Masked, Label: c.Label, Scope: s.Scope[c.Scope]}
			switch {
			case c.Broken:
				sc.Status, sc.Class = s.Broken, "bad"
			case c.Verified:
				sc.Status, sc.Class = s.Verified, "ok"
			default:
				sc.Status, sc.Class = s.Unverified, "wait"
			}
			if c.Kind == anpi.LINEContact {
				sc.Masked = s.LINELinked
			}
			cl.Contacts = append(cl.Contacts, sc)
		}
		p.Lists = append(p.Lists, cl)
	}
	names := make([]string, len(v.User.Regions))
	for i, r := range v.User.Regions {
		names[i] = r.String()
	}
	p.Regions = strings.Join(names, "\n")
	return p
}

// renderSelf renders the registration page.
func (h *handler) renderSelf(w http.ResponseWriter, status int, p *selfPage) {
	for _, k := range formKinds() {
		p.Kinds = append(p.Kinds, option{Code: k.value, Label: p.S.Kinds[k.value], Checked: k.value == p.Kind})
	}
	writePage(w, h.log, h.tmpl.Lookup("self"), status, p)
}

func (h *handler) selfGet(w http.ResponseWriter, r *http.Request) {
	tok := token(r)
	v, ok := h.invitation(w, r, tok)
	if !ok {
		return
	}
	l := selfLocale(r, v)
	p := h.selfForm(tok, v, l)
	switch r.URL.Query().Get("done") {
	case "contact":
		p.Done = p.S.Added
	case "regions":
		p.Done = p.S.RegionsSaved
	}
	h.renderSelf(w, http.StatusOK, p)
}

// selfBegin runs the checks of a POST to the registration page (those of
// every POST, then the token) and returns the view and locale.
func (h *handler) selfBegin(w http.ResponseWriter, r *http.Request) (string, *anpi.SelfServiceView, anpi.Locale, bool) {
	if h.self() == nil {
		h.notFound(w, r)
		return "", nil, "", false
	}
	tok, l, ok := h.beginPost(w, r, "r")
	if !ok {
		return "", nil, "", false
	}
	v, ok := h.invitation(w, r, tok)
	if !ok {
		return "", nil, "", false
	}
	if ql := anpi.Locale(r.URL.Query().Get("lang")); !ql.Valid() {
		l = selfLocale(r, v)
	}
	return tok, v, l, true
}

func (h *handler) selfPost(w http.ResponseWriter, r *http.Request) {
	tok, v, l, ok := h.selfBegin(w, r)
	if !ok {
		return
	}
	s := selfMsgs(l)
	kindValue := r.PostFormValue("kind")
	label := strings.TrimSpace(r.PostFormValue("label"))
	refuse := func(status int, text string) {
		p := h.selfForm(tok, v, l)
		p.Error, p.Kind, p.Label = text, kindValue, label
		h.renderSelf(w, status, p)
	}
	kinds := formKinds()
	i := slices.IndexFunc(kinds, func(k formKind) bool { return k.value == kindValue })
	if i < 0 {
		refuse(http.StatusBadRequest, s.BadKind)
		return
	}
	k := kinds[i]
	if utf8.RuneCountInString(label) > anpi.MaxContactLabel {
		refuse(http.StatusBadRequest, s.BadLabel)
		return
	}
	addr := strings.TrimSpace(r.PostFormValue("address"))
	if k.kind == anpi.PhoneContact {
		addr = normalizePhone(addr)
	}
	if addr == "" {
		refuse(http.StatusBadRequest, s.NoAddress)
		return
	}
	_, err := h.self().RegisterContact(r.Context(), tok, &anpi.Contact{Kind: k.kind, Scope: k.scope, Address: addr, Label: label})
	switch anpi.Code(err) {
	case anpi.OK:
		seeOther(w, tok+"?lang="+string(l)+"&done=contact")
	case anpi.InvalidArgument:
		if k.kind == anpi.PhoneContact {
			refuse(http.StatusBadRequest, s.BadPhone)
		} else {
			refuse(http.StatusBadRequest, s.BadEmail)
		}
	case anpi.AlreadyExists:
		refuse(http.StatusConflict, s.Duplicate)
	case anpi.FailedPrecondition:
		refuse(http.StatusConflict, s.Limit)
	default:
		h.fail(w, r, err, l)
	}
}

// normalizePhone accepts the ways people write Japanese numbers
// (090-1111-2222, ０９０…, +81 90 1111 2222) and returns E.164 when it
// can; what it cannot read it returns as typed, for the Service to refuse.
func normalizePhone(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= '０' && c <= '９':
			b.WriteRune('0' + (c - '０'))
		case c == '＋':
			b.WriteByte('+')
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '　' || c == '－' || c == 'ー':
		default:
			b.WriteRune(c)
		}
	}
	n := b.String()
	if strings.HasPrefix(n, "0") && !strings.HasPrefix(n, "00") {
		return "+81" + n[1:]
	}
	return n
}

func (h *handler) selfRegionsPost(w http.ResponseWriter, r *http.Request) {
	tok, v, l, ok := h.selfBegin(w, r)
	if !ok {
		return
	}
	s := selfMsgs(l)
	if !v.MayEditRegions {
		h.message(w, http.StatusForbidden, l, s.NoRegions)
		return
	}
	text := r.PostFormValue("regions")
	var regions []anpi.Region
	for _, f := range strings.FieldsFunc(text, func(c rune) bool {
		return c == '\n' || c == '\r' || c == ',' || c == ' ' || c == '\t' || c == '、' || c == '　'
	}) {
		reg, err := anpi.ParseRegion(f)
		if err != nil {
			p := h.selfForm(tok, v, l)
			p.Error, p.Regions = s.BadRegion+" "+f, text
			h.renderSelf(w, http.StatusBadRequest, p)
			return
		}
		regions = append(regions, reg)
	}
	_, err := h.self().SetInvitationRegions(r.Context(), tok, regions)
	switch anpi.Code(err) {
	case anpi.OK:
		seeOther(w, "../"+tok+"?lang="+string(l)+"&done=regions")
	case anpi.InvalidArgument:
		p := h.selfForm(tok, v, l)
		p.Error, p.Regions = s.TooManyRegions, text
		h.renderSelf(w, http.StatusBadRequest, p)
	case anpi.PermissionDenied:
		h.message(w, http.StatusForbidden, l, s.NoRegions)
	default:
		h.fail(w, r, err, l)
	}
}

// selfLINEPost starts LINE account linking: it asks Options.LINELinkURL
// where for the link's user and redirects there.
func (h *handler) selfLINEPost(w http.ResponseWriter, r *http.Request) {
	if h.line == nil {
		h.notFound(w, r)
		return
	}
	_, v, l, ok := h.selfBegin(w, r)
	if !ok {
		return
	}
	to, err := h.line(r.Context(), v.User.ID)
	if err == nil {
		// Only an absolute https URL: the redirect leaves the page, and a
		// relative or plain-HTTP one would be a mistake of the server's.
		if u, perr := url.Parse(to); perr != nil || u.Scheme != "https" || u.Host == "" {
			err = anpi.Errorf(anpi.Internal, "anpi/web: LINELinkURL returned %q, not an https URL", to)
		}
	}
	if err != nil {
		h.fail(w, r, anpi.Errorf(anpi.Internal, "anpi/web: LINE link for user %s: %w", v.User.ID, err), l)
		return
	}
	seeOther(w, to)
}
